#pragma once

// What the codec tests share: the recorded provider traffic, builders for canonical values
// (GCC's -Wmissing-field-initializers flags designated initializers that leave members out,
// and the canonical structs have many), and reading streams of events.

#include "gateway/canonical.hpp"
#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aignehub::gateway::fixtures {

// ---- recorded traffic ------------------------------------------------------------------------

/// The folder of recorded traffic that holds `sub`: $AIGNEHUB_FIXTURES, ../shared/fixtures from
/// the working directory, or the same place relative to this source file; empty when none does.
inline std::filesystem::path root(std::string_view sub = "dev") {
    namespace fs = std::filesystem;
    std::vector<fs::path> candidates;
    if (const char* env = std::getenv("AIGNEHUB_FIXTURES"); env != nullptr && *env != '\0') {
        candidates.emplace_back(env);
    }
    candidates.emplace_back("../shared/fixtures");
    candidates.push_back(fs::path(__FILE__).parent_path() / "../../../shared/fixtures");
    for (const auto& c : candidates) {
        std::error_code ec;
        if (fs::is_directory(c / sub, ec)) {
            return c;
        }
    }
    return {};
}

struct recording {
    std::string name; ///< "openai/chat_basic"
    std::string api;
    bool streaming = false;
    unsigned status = 0;
    std::string request; ///< empty when the request had no text body
    std::string response;
};

/// The recording in `file`; a failure of the test when there is no such file.
inline recording read_recording(const std::filesystem::path& file, std::string name) {
    recording r;
    r.name = std::move(name);
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "no recording at " << file;
        return r;
    }
    std::stringstream text;
    text << in.rdbuf();
    const auto doc = ojson::parse(text.str());
    r.api = doc.at("api").get<std::string>();
    r.streaming = doc.at("streaming").get<bool>();
    r.status = doc.at("response").at("status").get<unsigned>();
    if (doc.at("request").at("body").is_string()) {
        r.request = doc.at("request").at("body").get<std::string>();
    }
    r.response = doc.at("response").at("body").get<std::string>();
    return r;
}

/// The recording dev/<name>.json, name as "anthropic/messages_basic"; nullopt when the
/// recordings of its provider are not here.
inline std::optional<recording> load(std::string_view name) {
    const std::string provider(name.substr(0, name.find('/')));
    const std::filesystem::path dir = root("dev/" + provider);
    if (dir.empty()) {
        return std::nullopt;
    }
    return read_recording(dir / "dev" / (std::string(name) + ".json"), std::string(name));
}

/// Declares `const fixtures::recording& var`, the recording `name`, or skips the test.
#define LOAD_OR_SKIP(var, name)                                                                    \
    const auto var##_loaded = ::aignehub::gateway::fixtures::load(name);                           \
    if (!var##_loaded) {                                                                           \
        GTEST_SKIP() << "the recording " << (name)                                                 \
                     << " is not here (set AIGNEHUB_FIXTURES to the fixtures folder)";             \
    }                                                                                              \
    const ::aignehub::gateway::fixtures::recording& var = *var##_loaded

// ---- canonical values ------------------------------------------------------------------------

inline canon::part make_part(canon::part_kind kind, std::string text = {}) {
    canon::part p;
    p.kind = kind;
    p.text = std::move(text);
    return p;
}

inline canon::part text_part(std::string text) {
    return make_part(canon::part_kind::text, std::move(text));
}

inline canon::part reasoning_part(std::string text, std::string signature) {
    canon::part p = make_part(canon::part_kind::reasoning, std::move(text));
    p.signature = std::move(signature);
    return p;
}

inline canon::part call_part(std::string id, std::string name, std::string arguments) {
    canon::part p = make_part(canon::part_kind::tool_call);
    p.id = std::move(id);
    p.name = std::move(name);
    p.arguments = std::move(arguments);
    return p;
}

/// A tool result holding one text.
inline canon::part result_part(std::string id, std::string text) {
    canon::part p = make_part(canon::part_kind::tool_result);
    p.id = std::move(id);
    p.content.push_back(text_part(std::move(text)));
    return p;
}

/// An image (or document) given as base64 `data` of `media_type`, or by `url`.
inline canon::part media_part(canon::part_kind kind, std::string media_type, std::string data,
                              std::string url = {}) {
    canon::part p = make_part(kind);
    p.media_type = std::move(media_type);
    p.data = std::move(data);
    p.url = std::move(url);
    return p;
}

inline canon::tool make_tool(std::string name, std::string description = {},
                             ojson parameters = nullptr) {
    canon::tool t;
    t.name = std::move(name);
    t.description = std::move(description);
    t.parameters = std::move(parameters);
    return t;
}

inline canon::event make_event(canon::event_kind kind, std::string text = {}, int index = 0) {
    canon::event e;
    e.kind = kind;
    e.text = std::move(text);
    e.index = index;
    return e;
}

// ---- streams ---------------------------------------------------------------------------------

/// The SSE events of a whole stream body, each with its framing; expects nothing left over.
inline std::vector<std::string> split_events(std::string_view stream) {
    event_splitter splitter;
    std::vector<std::string> out;
    splitter.feed(stream, [&](std::string_view e) { out.emplace_back(e); });
    EXPECT_TRUE(splitter.rest().empty()) << splitter.rest();
    return out;
}

inline std::vector<canon::event> of_kind(const std::vector<canon::event>& events,
                                         canon::event_kind kind) {
    std::vector<canon::event> out;
    for (const auto& e : events) {
        if (e.kind == kind) {
            out.push_back(e);
        }
    }
    return out;
}

/// The text of the events of one kind, run together.
inline std::string joined(const std::vector<canon::event>& events, canon::event_kind kind) {
    std::string out;
    for (const auto& e : events) {
        if (e.kind == kind) {
            out += e.text;
        }
    }
    return out;
}

} // namespace aignehub::gateway::fixtures
