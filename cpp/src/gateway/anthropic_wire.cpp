#include "gateway/anthropic_wire.hpp"

#include "core/log.hpp"
#include "gateway/codec_util.hpp"
#include "gateway/json_scan.hpp"
#include "gateway/sse.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <utility>
#include <vector>

namespace aignehub::gateway::anthropic {

namespace {

using codec::clean_text;
using codec::integer_of;
using codec::make_event;
using codec::make_part;
using codec::member;
using codec::random_hex;
using codec::refuse;
using codec::scan_object;

constexpr std::string_view invalid_event = "the provider sent an invalid stream event";

// ---- canonical values --------------------------------------------------------------------------

canon::event usage_event(const usage_counts& usage) {
    canon::event e = make_event(canon::event_kind::usage);
    e.usage = usage;
    return e;
}

// ---- ids -------------------------------------------------------------------------------------

std::string message_id(std::string_view id) {
    if (id.empty()) {
        return "msg_" + random_hex(12);
    }
    if (id.starts_with("msg_")) {
        return std::string(id);
    }
    return "msg_" + std::string(id);
}

bool id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

// Anthropic refuses tool_use ids outside ^[a-zA-Z0-9_-]+$; ids made by other providers are
// mapped the same way in a call and in its result, so the pair still matches.
std::string call_id(std::string_view id) {
    std::string out(id);
    std::replace_if(
        out.begin(), out.end(), [](char c) { return !id_char(c); }, '_');
    return out;
}

// ---- finish reasons --------------------------------------------------------------------------

canon::finish finish_of(std::string_view stop_reason) {
    if (stop_reason == "end_turn") {
        return canon::finish::stop;
    }
    if (stop_reason == "stop_sequence") {
        return canon::finish::stop_sequence;
    }
    if (stop_reason == "max_tokens" || stop_reason == "model_context_window_exceeded") {
        return canon::finish::length;
    }
    if (stop_reason == "tool_use") {
        return canon::finish::tool_calls;
    }
    if (stop_reason == "refusal") {
        return canon::finish::content_filter;
    }
    if (stop_reason == "pause_turn") {
        return canon::finish::pause;
    }
    return stop_reason.empty() ? canon::finish::none : canon::finish::stop;
}

std::string_view stop_reason_of(canon::finish reason) {
    switch (reason) {
    case canon::finish::stop_sequence:
        return "stop_sequence";
    case canon::finish::length:
        return "max_tokens";
    case canon::finish::tool_calls:
        return "tool_use";
    case canon::finish::content_filter:
        return "refusal";
    case canon::finish::pause:
        return "pause_turn";
    case canon::finish::none:
    case canon::finish::stop:
        break;
    }
    return "end_turn";
}

// ---- usage -----------------------------------------------------------------------------------

// The counts of an Anthropic usage object, each only when it was given (a message_delta's
// usage overrides what message_start said, field by field).
struct raw_usage {
    std::optional<std::int64_t> input;
    std::optional<std::int64_t> creation;
    std::optional<std::int64_t> read;
    std::optional<std::int64_t> output;
    std::optional<std::int64_t> write_5m; // cache_creation.ephemeral_5m_input_tokens
    std::optional<std::int64_t> write_1h; // cache_creation.ephemeral_1h_input_tokens
};

std::optional<std::int64_t> count_of(const scan::value& v) {
    if (v.type != scan::kind::number) {
        return std::nullopt;
    }
    return scan::integer_of(v);
}

void read_usage(const scan::value& usage, raw_usage& out) {
    scan::members(usage, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "input_tokens")) {
            out.input = count_of(v);
        } else if (scan::key_is(key, "output_tokens")) {
            out.output = count_of(v);
        } else if (scan::key_is(key, "cache_creation_input_tokens")) {
            out.creation = count_of(v);
        } else if (scan::key_is(key, "cache_read_input_tokens")) {
            out.read = count_of(v);
        } else if (scan::key_is(key, "cache_creation") && v.type == scan::kind::object) {
            out.write_5m = 0;
            out.write_1h = 0;
            scan::members(v, [&](std::string_view k, const scan::value& d) {
                if (scan::key_is(k, "ephemeral_5m_input_tokens")) {
                    out.write_5m = count_of(d).value_or(0);
                } else if (scan::key_is(k, "ephemeral_1h_input_tokens")) {
                    out.write_1h = count_of(d).value_or(0);
                }
                return true;
            });
        }
        return true;
    });
}

usage_counts counts_of(const raw_usage& raw) {
    usage_counts out;
    const std::int64_t creation = raw.creation.value_or(0);
    out.cached = raw.read.value_or(0);
    out.prompt = raw.input.value_or(0) + out.cached + creation;
    out.completion = raw.output.value_or(0);
    if (raw.write_5m || raw.write_1h) {
        out.cache_write_5m = raw.write_5m.value_or(0);
        out.cache_write_1h = raw.write_1h.value_or(0);
    } else {
        out.cache_write_5m = creation; // no breakdown: Anthropic's default TTL is 5 minutes
    }
    out.reported = true;
    return out;
}

usage_counts usage_of(const scan::value& usage) {
    raw_usage raw;
    read_usage(usage, raw);
    return counts_of(raw);
}

// The inverse of counts_of.
raw_usage raw_of(const usage_counts& usage) {
    raw_usage out;
    out.read = usage.cached;
    out.write_5m = usage.cache_write_5m;
    out.write_1h = usage.cache_write_1h;
    out.creation = usage.cache_write_5m + usage.cache_write_1h;
    out.input = std::max<std::int64_t>(0, usage.prompt - usage.cached - *out.creation);
    out.output = usage.completion;
    return out;
}

void merge(raw_usage& base, const raw_usage& over) {
    const bool split_given = over.write_5m || over.write_1h;
    if (over.creation && !split_given &&
        base.write_5m.value_or(0) + base.write_1h.value_or(0) != *over.creation) {
        base.write_5m.reset(); // the old breakdown no longer adds up
        base.write_1h.reset();
    }
    const auto take = [](std::optional<std::int64_t>& to, const std::optional<std::int64_t>& from) {
        if (from) {
            to = from;
        }
    };
    take(base.input, over.input);
    take(base.creation, over.creation);
    take(base.read, over.read);
    take(base.output, over.output);
    take(base.write_5m, over.write_5m);
    take(base.write_1h, over.write_1h);
}

ojson usage_json(const usage_counts& usage, bool breakdown) {
    const raw_usage raw = raw_of(usage);
    ojson out = ojson::object();
    out["input_tokens"] = *raw.input;
    out["cache_creation_input_tokens"] = *raw.creation;
    out["cache_read_input_tokens"] = *raw.read;
    if (breakdown) {
        out["cache_creation"] = {{"ephemeral_5m_input_tokens", *raw.write_5m},
                                 {"ephemeral_1h_input_tokens", *raw.write_1h}};
    }
    out["output_tokens"] = *raw.output;
    return out;
}

// ---- errors ----------------------------------------------------------------------------------

std::string_view error_type(unsigned status) {
    switch (status) {
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

// The status whose error type a code names, for a stream failing with that code.
unsigned status_of_code(std::string_view code) {
    static constexpr std::array<std::pair<std::string_view, unsigned>, 11> codes{{
        {"invalid_request_error", 400},
        {"authentication_error", 401},
        {"billing_error", 402},
        {"permission_error", 403},
        {"not_found_error", 404},
        {"request_too_large", 413},
        {"rate_limit_error", 429},
        {"rate_limit_exceeded", 429},
        {"overloaded_error", 529},
        {"overloaded", 529},
        {"api_error", 500},
    }};
    for (const auto& [name, status] : codes) {
        if (code == name) {
            return status;
        }
    }
    return 500;
}

void append_event(std::string& out, std::string_view name, std::string_view data) {
    out.append("event: ");
    out.append(name);
    out.append("\ndata: ");
    out.append(data);
    out.append("\n\n");
}

// ---- base64 ----------------------------------------------------------------------------------

// Lenient where crypto::base64_decode is strict (either alphabet; padding, spaces and line
// breaks skipped): a plain-text document's data is taken as the client wrote it.
std::optional<std::string> base64_decode(std::string_view in) {
    std::string out;
    out.reserve(in.size() / 4 * 3);
    std::uint32_t buffer = 0;
    int bits = 0;
    for (const char c : in) {
        int v = -1;
        if (c >= 'A' && c <= 'Z') {
            v = c - 'A';
        } else if (c >= 'a' && c <= 'z') {
            v = c - 'a' + 26;
        } else if (c >= '0' && c <= '9') {
            v = c - '0' + 52;
        } else if (c == '+' || c == '-') {
            v = 62;
        } else if (c == '/' || c == '_') {
            v = 63;
        } else if (c == '=' || c == '\n' || c == '\r' || c == ' ') {
            continue;
        } else {
            return std::nullopt;
        }
        buffer = (buffer << 6U) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
        }
    }
    return out;
}

// ---- encode_request --------------------------------------------------------------------------

// A data URL Anthropic can take as a base64 source: one that names its media type.
std::optional<codec::data_url> typed_data_url(std::string_view url) {
    auto parsed = codec::parse_data_url(url);
    if (!parsed || parsed->media_type.empty()) {
        return std::nullopt;
    }
    return parsed;
}

void add_cache_control(ojson& block, const ojson& cache_control) {
    if (!cache_control.is_null()) {
        block["cache_control"] = cache_control;
    }
}

// A text, image or document part as a content block; nothing (nullopt and `block` null) for
// an empty text.
std::optional<bad_field> content_block(const canon::part& p, const std::string& where,
                                       ojson& block) {
    block = nullptr;
    switch (p.kind) {
    case canon::part_kind::text:
        if (p.text.empty()) {
            return std::nullopt; // Anthropic refuses empty text blocks
        }
        block = {{"type", "text"}, {"text", p.text}};
        break;
    case canon::part_kind::image: {
        ojson source;
        if (!p.data.empty()) {
            source = {{"type", "base64"}, {"media_type", p.media_type}, {"data", p.data}};
        } else if (const auto inline_url = typed_data_url(p.url)) {
            source = {{"type", "base64"},
                      {"media_type", inline_url->media_type},
                      {"data", inline_url->data}};
        } else if (!p.url.empty()) {
            source = {{"type", "url"}, {"url", p.url}};
        } else {
            return refuse(where, where + ": an image needs data or a URL");
        }
        block = {{"type", "image"}, {"source", std::move(source)}};
        break;
    }
    case canon::part_kind::document: {
        std::string media_type = p.media_type;
        std::string data = p.data;
        bool remote = false;
        if (data.empty() && !p.url.empty()) {
            auto inline_url = typed_data_url(p.url);
            remote = !inline_url;
            if (inline_url) {
                media_type = std::move(inline_url->media_type);
                data = std::move(inline_url->data);
            }
        }
        ojson source;
        if (remote) {
            source = {{"type", "url"}, {"url", p.url}};
        } else if (!data.empty() && media_type == "application/pdf") {
            source = {{"type", "base64"}, {"media_type", media_type}, {"data", data}};
        } else if (!data.empty() && media_type == "text/plain") {
            auto text = base64_decode(data);
            if (!text) {
                return refuse(where, where + ": the document's data is not valid base64");
            }
            source = {{"type", "text"}, {"media_type", "text/plain"}, {"data", std::move(*text)}};
        } else if (!data.empty()) {
            return refuse(where,
                          where +
                              ": Anthropic reads PDF and plain-text documents only, "
                              "not " +
                              (media_type.empty() ? std::string("untyped data") : media_type));
        } else {
            source = {{"type", "text"}, {"media_type", "text/plain"}, {"data", p.text}};
        }
        block = {{"type", "document"}, {"source", std::move(source)}};
        if (!p.title.empty()) {
            block["title"] = p.title;
        }
        break;
    }
    default:
        return refuse(where, where + ": this kind of content is not allowed here");
    }
    add_cache_control(block, p.cache_control);
    return std::nullopt;
}

std::optional<bad_field> tool_result_block(const canon::part& p, const std::string& where,
                                           ojson& block) {
    block = {{"type", "tool_result"}, {"tool_use_id", call_id(p.id)}};
    if (p.content.size() == 1 && p.content[0].kind == canon::part_kind::text &&
        p.content[0].cache_control.is_null()) {
        block["content"] = p.content[0].text;
    } else if (!p.content.empty()) {
        ojson content = ojson::array();
        for (std::size_t k = 0; k < p.content.size(); ++k) {
            ojson inner;
            if (auto bad = content_block(p.content[k],
                                         where + ".content[" + std::to_string(k) + "]", inner)) {
                return bad;
            }
            if (!inner.is_null()) {
                content.push_back(std::move(inner));
            }
        }
        if (!content.empty()) {
            block["content"] = std::move(content);
        }
    }
    if (p.is_error) {
        block["is_error"] = true;
    }
    add_cache_control(block, p.cache_control);
    return std::nullopt;
}

// Appends a block to the last message when it has `who`'s role, else to a new message; tool
// results go before the other blocks of their user message, as Anthropic requires.
void append_block(ojson& messages, std::string_view who, ojson block, bool tool_result) {
    if (messages.empty() || messages.back()["role"] != who) {
        ojson message = ojson::object();
        message["role"] = who;
        message["content"] = ojson::array();
        messages.push_back(std::move(message));
    }
    ojson& content = messages.back()["content"];
    if (!tool_result) {
        content.push_back(std::move(block));
        return;
    }
    auto at = content.begin();
    while (at != content.end() && member(*at, "type") == "tool_result") {
        ++at;
    }
    content.insert(at, std::move(block));
}

std::optional<bad_field> encode_messages(const canon::chat_request& r, ojson& messages) {
    messages = ojson::array();
    for (std::size_t i = 0; i < r.messages.size(); ++i) {
        const canon::message& m = r.messages[i];
        const std::string where = "messages[" + std::to_string(i) + "]";
        const bool assistant = m.who == canon::role::assistant;
        const std::string_view who = assistant ? "assistant" : "user";
        std::size_t calls = 0;
        for (std::size_t j = 0; j < m.parts.size(); ++j) {
            const canon::part& p = m.parts[j];
            const std::string at = where + ".content[" + std::to_string(j) + "]";
            ojson block;
            switch (p.kind) {
            case canon::part_kind::text:
            case canon::part_kind::image:
            case canon::part_kind::document:
                if (auto bad = content_block(p, at, block)) {
                    return bad;
                }
                if (!block.is_null()) {
                    append_block(messages, who, std::move(block), false);
                }
                break;
            case canon::part_kind::reasoning:
                // Thinking goes back only as Anthropic signed it: its signature is verified,
                // and thinking from other providers has none.
                if (assistant && !p.signature.empty()) {
                    append_block(
                        messages, who,
                        {{"type", "thinking"}, {"thinking", p.text}, {"signature", p.signature}},
                        false);
                }
                break;
            case canon::part_kind::redacted_reasoning:
                if (assistant) {
                    append_block(messages, who, {{"type", "redacted_thinking"}, {"data", p.data}},
                                 false);
                }
                break;
            case canon::part_kind::tool_call: {
                const std::string param =
                    where + ".tool_calls[" + std::to_string(calls++) + "].function.arguments";
                if (!assistant) {
                    return refuse(where, where + ": only assistant messages may hold tool calls");
                }
                ojson input = ojson::object();
                if (p.arguments.find_first_not_of(" \t\r\n") != std::string::npos) {
                    input = ojson::parse(p.arguments, nullptr, false);
                    if (input.is_discarded() || !input.is_object()) {
                        return refuse(param, param + " must be a JSON object");
                    }
                }
                block = {{"type", "tool_use"},
                         {"id", call_id(p.id)},
                         {"name", p.name},
                         {"input", std::move(input)}};
                add_cache_control(block, p.cache_control);
                append_block(messages, who, std::move(block), false);
                break;
            }
            case canon::part_kind::tool_result:
                if (assistant) {
                    return refuse(where, where + ": a tool result belongs in a tool message");
                }
                if (auto bad = tool_result_block(p, where, block)) {
                    return bad;
                }
                append_block(messages, who, std::move(block), true);
                break;
            }
        }
    }
    if (messages.empty()) {
        return refuse("messages", "messages must hold at least one message with content");
    }
    return std::nullopt;
}

ojson encode_system(const std::vector<canon::part>& system) {
    if (system.size() == 1 && system[0].cache_control.is_null()) {
        return system[0].text.empty() ? ojson() : ojson(system[0].text);
    }
    ojson blocks = ojson::array();
    for (const auto& p : system) {
        if (p.text.empty()) {
            continue;
        }
        ojson block = {{"type", "text"}, {"text", p.text}};
        add_cache_control(block, p.cache_control);
        blocks.push_back(std::move(block));
    }
    return blocks.empty() ? ojson() : blocks;
}

ojson encode_tools(const std::vector<canon::tool>& tools) {
    ojson out = ojson::array();
    for (const auto& t : tools) {
        ojson tool = ojson::object();
        tool["name"] = t.name;
        if (!t.description.empty()) {
            tool["description"] = t.description;
        }
        ojson schema = codec::object_schema(t.parameters);
        if (!schema.contains("type")) {
            schema["type"] = "object"; // Anthropic requires it; JSON Schema defaults to any
        }
        tool["input_schema"] = std::move(schema);
        add_cache_control(tool, t.cache_control);
        out.push_back(std::move(tool));
    }
    return out;
}

// The thinking budget asked for; nullopt when none (or thinking off).
std::optional<bad_field> thinking_budget(const canon::chat_request& r,
                                         std::optional<std::int64_t>& budget) {
    budget.reset();
    if (r.reasoning_budget) {
        if (*r.reasoning_budget < 0) {
            return refuse("reasoning_effort", "the reasoning budget must not be negative");
        }
        if (*r.reasoning_budget > 0) {
            budget = std::max<std::int64_t>(*r.reasoning_budget, 1024); // Anthropic's minimum
        }
        return std::nullopt;
    }
    if (r.reasoning_effort.empty()) {
        return std::nullopt;
    }
    const auto tokens = codec::budget_of_effort(r.reasoning_effort);
    if (!tokens) {
        return refuse("reasoning_effort", "reasoning_effort must be one of minimal, low, medium "
                                          "or high");
    }
    if (*tokens > 0) {
        budget = tokens;
    }
    return std::nullopt;
}

std::optional<bad_field> check_request(const canon::chat_request& r,
                                       const std::optional<std::int64_t>& budget) {
    if (r.presence_penalty && *r.presence_penalty != 0.0) {
        return refuse("presence_penalty", "Anthropic models do not support presence_penalty");
    }
    if (r.frequency_penalty && *r.frequency_penalty != 0.0) {
        return refuse("frequency_penalty", "Anthropic models do not support frequency_penalty");
    }
    if (r.format != canon::response_format::text) {
        return refuse("response_format", "Anthropic models do not support response_format "
                                         "json_object or json_schema; describe the format in "
                                         "the prompt or use a tool");
    }
    if (r.temperature && (*r.temperature < 0.0 || *r.temperature > 1.0)) {
        return refuse("temperature", "Anthropic models accept a temperature between 0 and 1");
    }
    if (r.top_k && *r.top_k < 0) {
        return refuse("top_k", "top_k must not be negative");
    }
    if (r.max_tokens && *r.max_tokens < 1) {
        return refuse("max_tokens", "max_tokens must be at least 1");
    }
    const bool forced =
        r.tool_choice == canon::tool_mode::required || r.tool_choice == canon::tool_mode::named;
    if (forced && r.tools.empty()) {
        return refuse("tool_choice", "tool_choice requires tools");
    }
    if (budget) {
        if (r.temperature && *r.temperature != 1.0) {
            return refuse("temperature", "with reasoning on, Anthropic models accept no "
                                         "temperature other than 1");
        }
        if (r.top_k) {
            return refuse("top_k", "with reasoning on, Anthropic models accept no top_k");
        }
        if (r.top_p && *r.top_p < 0.95) {
            return refuse("top_p", "with reasoning on, Anthropic models accept top_p between "
                                   "0.95 and 1 only");
        }
        if (forced) {
            return refuse("tool_choice", "with reasoning on, Anthropic models cannot be forced "
                                         "to call a tool; use tool_choice auto");
        }
    }
    return std::nullopt;
}

ojson encode_tool_choice(const canon::chat_request& r) {
    if (r.tools.empty()) {
        return nullptr;
    }
    ojson choice = ojson::object();
    switch (r.tool_choice) {
    case canon::tool_mode::none:
        return {{"type", "none"}};
    case canon::tool_mode::required:
        choice["type"] = "any";
        break;
    case canon::tool_mode::named:
        choice["type"] = "tool";
        choice["name"] = r.tool_name;
        break;
    case canon::tool_mode::automatic:
        choice["type"] = "auto";
        break;
    case canon::tool_mode::unset:
        if (r.parallel_tool_calls != false) {
            return nullptr;
        }
        choice["type"] = "auto";
        break;
    }
    if (r.parallel_tool_calls == false) {
        choice["disable_parallel_tool_use"] = true;
    }
    return choice;
}

std::optional<bad_field> build_body(const canon::chat_request& r, std::string_view model,
                                    bool count, ojson& body) {
    std::optional<std::int64_t> budget;
    if (auto bad = thinking_budget(r, budget)) {
        return bad;
    }
    if (auto bad = check_request(r, budget)) {
        return bad;
    }
    ojson messages;
    if (auto bad = encode_messages(r, messages)) {
        return bad;
    }
    body = ojson::object();
    body["model"] = model;
    if (!count) {
        std::int64_t max_tokens = r.max_tokens.value_or(default_max_tokens(model));
        if (budget && max_tokens <= *budget) {
            max_tokens = *budget + 4096; // Anthropic wants room for the answer after thinking
        }
        body["max_tokens"] = max_tokens;
    }
    if (ojson system = encode_system(r.system); !system.is_null()) {
        body["system"] = std::move(system);
    }
    body["messages"] = std::move(messages);
    if (!r.tools.empty()) {
        body["tools"] = encode_tools(r.tools);
    }
    if (ojson choice = encode_tool_choice(r); !choice.is_null()) {
        body["tool_choice"] = std::move(choice);
    }
    if (budget) {
        body["thinking"] = {{"type", "enabled"}, {"budget_tokens", *budget}};
    }
    if (count) {
        return std::nullopt;
    }
    ojson stop = ojson::array();
    for (const auto& s : r.stop) {
        if (!s.empty()) {
            stop.push_back(s);
        }
    }
    if (!stop.empty()) {
        body["stop_sequences"] = std::move(stop);
    }
    codec::set_if(body, "temperature", r.temperature);
    codec::set_if(body, "top_p", r.top_p);
    codec::set_if(body, "top_k", r.top_k);
    if (!r.user.empty()) {
        body["metadata"] = {{"user_id", r.user}};
    }
    if (r.stream) {
        body["stream"] = true;
    }
    return std::nullopt;
}

std::optional<bad_field> encode_body(const canon::chat_request& r, std::string_view model,
                                     bool count, std::string& out) {
    ojson body;
    if (auto bad = build_body(r, model, count, body)) {
        return bad;
    }
    out = dump(body);
    return std::nullopt;
}

// ---- decode_answer ---------------------------------------------------------------------------

// The fields of one content block (answer) or content_block (stream).
struct block_fields {
    std::string type;
    std::string text;
    std::string thinking;
    std::string signature;
    std::string data;
    std::string id;
    std::string name;
    std::optional<scan::value> input;
};

block_fields fields_of(const scan::value& block) {
    block_fields out;
    scan::members(block, [&](std::string_view key, const scan::value& v) {
        if (v.type != scan::kind::string) {
            if (scan::key_is(key, "input")) {
                out.input = v;
            }
            return true;
        }
        if (scan::key_is(key, "type")) {
            out.type = scan::text_of(v);
        } else if (scan::key_is(key, "text")) {
            out.text = scan::text_of(v);
        } else if (scan::key_is(key, "thinking")) {
            out.thinking = scan::text_of(v);
        } else if (scan::key_is(key, "signature")) {
            out.signature = scan::text_of(v);
        } else if (scan::key_is(key, "data")) {
            out.data = scan::text_of(v);
        } else if (scan::key_is(key, "id")) {
            out.id = scan::text_of(v);
        } else if (scan::key_is(key, "name")) {
            out.name = scan::text_of(v);
        }
        return true;
    });
    return out;
}

// A tool_use input as compact JSON text ("{}" when empty or missing).
std::string arguments_of(const std::optional<scan::value>& input) {
    if (!input || input->type != scan::kind::object) {
        return "{}";
    }
    return dump(ojson::parse(input->text, nullptr, false));
}

// ---- the stream decoder ----------------------------------------------------------------------

std::string_view type_of(const scan::value& top) {
    std::string_view type;
    scan::members(top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "type") && v.type == scan::kind::string) {
            type = v.text.substr(1, v.text.size() - 2); // event types need no unescaping
            return false;
        }
        return true;
    });
    return type;
}

upstream_error error_of(const scan::value& top) {
    upstream_error out;
    out.type = "api_error";
    scan::members(top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "error") && v.type == scan::kind::object) {
            scan::members(v, [&](std::string_view k, const scan::value& f) {
                if (scan::key_is(k, "message") && f.type == scan::kind::string) {
                    out.message = scan::text_of(f);
                } else if (scan::key_is(k, "type") && f.type == scan::kind::string) {
                    out.type = scan::text_of(f);
                }
                return true;
            });
        }
        return true;
    });
    out.code = out.type;
    if (out.message.empty()) {
        out.message = "the provider reported an error in the stream";
    }
    out.message = clean_text(out.message, 1000);
    out.status = out.type == "overloaded_error" ? 503 : 0;
    return out;
}

class decoder final : public canon::stream_decoder {
public:
    std::optional<upstream_error> feed(std::string_view raw,
                                       std::vector<canon::event>& out) override {
        const sse_event e = parse_event(raw);
        if (e.data.empty()) {
            return std::nullopt; // a comment, keep-alive or bare event name
        }
        const auto parsed = scan_object(e.data);
        if (!parsed) {
            return upstream_error{std::string(invalid_event), "api_error", "invalid_stream_event",
                                  0};
        }
        const scan::value& top = *parsed;
        std::string_view type = type_of(top);
        if (type.empty()) {
            type = e.name;
        }
        if (type == "error" || e.name == "error") {
            done_ = true;
            return error_of(top);
        }
        if (type == "message_start") {
            message_start(top, out);
        } else if (type == "content_block_start") {
            block_start(top, out);
        } else if (type == "content_block_delta") {
            block_delta(top, out);
        } else if (type == "message_delta") {
            message_delta(top, out);
        } else if (type == "message_stop") {
            done_ = true;
        }
        return std::nullopt; // ping, content_block_stop, and what is new to this decoder
    }

    [[nodiscard]] bool done() const noexcept override { return done_; }

private:
    void message_start(const scan::value& top, std::vector<canon::event>& out) {
        canon::event start = make_event(canon::event_kind::start);
        bool has_usage = false;
        scan::members(top, [&](std::string_view key, const scan::value& message) {
            if (!scan::key_is(key, "message") || message.type != scan::kind::object) {
                return true;
            }
            scan::members(message, [&](std::string_view k, const scan::value& v) {
                if (scan::key_is(k, "id") && v.type == scan::kind::string) {
                    start.id = scan::text_of(v);
                } else if (scan::key_is(k, "model") && v.type == scan::kind::string) {
                    start.name = scan::text_of(v);
                } else if (scan::key_is(k, "usage") && v.type == scan::kind::object) {
                    read_usage(v, usage_);
                    has_usage = true;
                }
                return true;
            });
            return false;
        });
        out.push_back(std::move(start));
        if (has_usage) {
            out.push_back(usage_event(counts_of(usage_)));
        }
    }

    static std::optional<std::int64_t> index_of(const scan::value& top) {
        std::optional<std::int64_t> index;
        scan::members(top, [&](std::string_view key, const scan::value& v) {
            if (scan::key_is(key, "index")) {
                index = count_of(v);
                return false;
            }
            return true;
        });
        return index;
    }

    void block_start(const scan::value& top, std::vector<canon::event>& out) {
        const auto index = index_of(top);
        scan::members(top, [&](std::string_view key, const scan::value& v) {
            if (!scan::key_is(key, "content_block") || v.type != scan::kind::object) {
                return true;
            }
            block_fields b = fields_of(v);
            if (b.type == "text" && !b.text.empty()) {
                out.push_back(make_event(canon::event_kind::text, b.text));
            } else if (b.type == "thinking") {
                if (!b.thinking.empty()) {
                    out.push_back(make_event(canon::event_kind::reasoning, b.thinking));
                }
                if (!b.signature.empty()) {
                    out.push_back(make_event(canon::event_kind::signature, b.signature));
                }
            } else if (b.type == "redacted_thinking") {
                out.push_back(make_event(canon::event_kind::redacted_reasoning, std::move(b.data)));
            } else if (b.type == "tool_use") {
                const int call = next_call_++;
                if (index) {
                    calls_[*index] = call;
                }
                canon::event begins = make_event(canon::event_kind::tool_call, {}, call);
                begins.id = std::move(b.id);
                begins.name = std::move(b.name);
                out.push_back(std::move(begins));
                // Input usually streams as input_json_delta after an empty object; a proxy
                // that sends it whole in the start is taken as it is.
                if (b.input && b.input->type == scan::kind::object &&
                    scan::detail::skip_ws(b.input->text, 1) != b.input->text.size() - 1) {
                    out.push_back(
                        make_event(canon::event_kind::tool_arguments, arguments_of(b.input), call));
                }
            }
            return false;
        });
    }

    void block_delta(const scan::value& top, std::vector<canon::event>& out) {
        const auto index = index_of(top);
        scan::members(top, [&](std::string_view key, const scan::value& delta) {
            if (!scan::key_is(key, "delta") || delta.type != scan::kind::object) {
                return true;
            }
            std::string type;
            std::optional<scan::value> payload;
            scan::members(delta, [&](std::string_view k, const scan::value& v) {
                if (scan::key_is(k, "type") && v.type == scan::kind::string) {
                    type = scan::text_of(v);
                } else if (v.type == scan::kind::string &&
                           (scan::key_is(k, "text") || scan::key_is(k, "thinking") ||
                            scan::key_is(k, "signature") || scan::key_is(k, "partial_json"))) {
                    payload = v;
                }
                return true;
            });
            if (!payload) {
                return false; // citations_delta and what else carries no text
            }
            std::string text = scan::text_of(*payload);
            if (text.empty()) {
                return false;
            }
            if (type == "text_delta") {
                out.push_back(make_event(canon::event_kind::text, std::move(text)));
            } else if (type == "thinking_delta") {
                out.push_back(make_event(canon::event_kind::reasoning, std::move(text)));
            } else if (type == "signature_delta") {
                out.push_back(make_event(canon::event_kind::signature, std::move(text)));
            } else if (type == "input_json_delta" && index) {
                if (const auto call = calls_.find(*index); call != calls_.end()) {
                    out.push_back(make_event(canon::event_kind::tool_arguments, std::move(text),
                                             call->second));
                }
            }
            return false;
        });
    }

    void message_delta(const scan::value& top, std::vector<canon::event>& out) {
        std::optional<canon::event> finish;
        bool has_usage = false;
        scan::members(top, [&](std::string_view key, const scan::value& v) {
            if (scan::key_is(key, "delta") && v.type == scan::kind::object) {
                scan::members(v, [&](std::string_view k, const scan::value& d) {
                    if (scan::key_is(k, "stop_reason") && d.type == scan::kind::string) {
                        if (!finish) {
                            finish = make_event(canon::event_kind::finish);
                        }
                        finish->reason = finish_of(scan::text_of(d));
                    } else if (scan::key_is(k, "stop_sequence") && d.type == scan::kind::string) {
                        if (!finish) {
                            finish = make_event(canon::event_kind::finish);
                        }
                        finish->stop_sequence = scan::text_of(d);
                    }
                    return true;
                });
            } else if (scan::key_is(key, "usage") && v.type == scan::kind::object) {
                raw_usage delta;
                read_usage(v, delta);
                merge(usage_, delta);
                has_usage = true;
            }
            return true;
        });
        if (has_usage) {
            out.push_back(usage_event(counts_of(usage_)));
        }
        if (finish) {
            out.push_back(std::move(*finish));
        }
    }

    bool done_ = false;
    raw_usage usage_;
    std::map<std::int64_t, int> calls_; // Anthropic block index -> call ordinal
    int next_call_ = 0;
};

// ---- the stream encoder ----------------------------------------------------------------------

class encoder final : public canon::stream_encoder {
public:
    void write(const canon::event& e, std::string& out) override {
        switch (e.kind) {
        case canon::event_kind::start:
            if (!started_) {
                id_ = e.id;
                model_ = e.name;
                have_start_ = true; // message_start waits one event for the input usage
            }
            return;
        case canon::event_kind::usage:
            usage_ = e.usage;
            if (have_start_) {
                begin(out);
            }
            return;
        case canon::event_kind::finish:
            reason_ = e.reason;
            stop_sequence_ = e.stop_sequence;
            begin(out);
            return;
        case canon::event_kind::text:
            begin(out);
            if (!e.text.empty()) {
                delta(out, block::text, "text_delta", "text", e.text);
            }
            return;
        case canon::event_kind::reasoning:
            begin(out);
            if (!e.text.empty()) {
                delta(out, block::thinking, "thinking_delta", "thinking", e.text);
            }
            return;
        case canon::event_kind::signature:
            begin(out);
            if (!e.text.empty()) {
                delta(out, block::thinking, "signature_delta", "signature", e.text);
            }
            return;
        case canon::event_kind::redacted_reasoning: {
            begin(out);
            close_all(out);
            start_block(out, {{"type", "redacted_thinking"}, {"data", e.text}});
            stop_block(out, next_index_++);
            return;
        }
        case canon::event_kind::tool_call:
            begin(out);
            tool_call(e, out);
            return;
        case canon::event_kind::tool_arguments:
            begin(out);
            tool_arguments(e, out);
            return;
        }
    }

    void finish(std::string& out) override {
        begin(out);
        close_all(out);
        ojson delta = ojson::object();
        delta["stop_reason"] = stop_reason_of(reason_);
        delta["stop_sequence"] =
            reason_ == canon::finish::stop_sequence ? ojson(stop_sequence_) : ojson(nullptr);
        ojson body = ojson::object();
        body["type"] = "message_delta";
        body["delta"] = std::move(delta);
        body["usage"] = usage_json(usage_, false);
        append_event(out, "message_delta", dump(body));
        append_event(out, "message_stop", R"({"type":"message_stop"})");
    }

    void fail(std::string& out, std::string_view message, std::string_view code) override {
        append_error_event(out, status_of_code(code), message);
    }

private:
    enum class block { none, text, thinking, tool };

    struct call {
        std::string id;
        std::string name;
        std::string arguments; // held while the call waits for its block
        bool opened = false;
    };

    void begin(std::string& out) {
        if (started_) {
            return;
        }
        started_ = true;
        ojson usage = usage_json(usage_, false);
        usage["output_tokens"] = 0;
        ojson message = ojson::object();
        message["id"] = message_id(id_);
        message["type"] = "message";
        message["role"] = "assistant";
        message["model"] = model_;
        message["content"] = ojson::array();
        message["stop_reason"] = nullptr;
        message["stop_sequence"] = nullptr;
        message["usage"] = std::move(usage);
        ojson body = ojson::object();
        body["type"] = "message_start";
        body["message"] = std::move(message);
        append_event(out, "message_start", dump(body));
    }

    static void stop_block(std::string& out, int index) {
        out.append("event: content_block_stop\n"
                   R"(data: {"type":"content_block_stop","index":)");
        out.append(std::to_string(index));
        out.append("}\n\n");
    }

    void close(std::string& out) {
        if (open_ != block::none) {
            stop_block(out, next_index_++);
            open_ = block::none;
            open_call_ = -1;
        }
    }

    // Closes the open block, then emits whole each call that waited for one.
    void close_all(std::string& out) {
        close(out);
        for (const int index : waiting_) {
            call& c = calls_[index];
            open_tool(out, c);
            if (!c.arguments.empty()) {
                arguments_delta(out, c.arguments);
                c.arguments.clear();
            }
            close(out);
        }
        waiting_.clear();
    }

    void start_block(std::string& out, ojson content) const {
        ojson start = ojson::object();
        start["type"] = "content_block_start";
        start["index"] = next_index_;
        start["content_block"] = std::move(content);
        append_event(out, "content_block_start", dump(start));
    }

    void open(std::string& out, block kind) {
        start_block(out, kind == block::text ? ojson{{"type", "text"}, {"text", ""}}
                                             : ojson{{"type", "thinking"}, {"thinking", ""}});
        open_ = kind;
    }

    void open_tool(std::string& out, call& c) {
        ojson content = ojson::object();
        content["type"] = "tool_use";
        content["id"] = c.id;
        content["name"] = c.name;
        content["input"] = ojson::object();
        start_block(out, std::move(content));
        c.opened = true;
        open_ = block::tool;
    }

    // `event: content_block_delta` up to the delta, for the open block.
    void start_delta(std::string& out) const {
        out.append("event: content_block_delta\ndata: "
                   R"({"type":"content_block_delta","index":)");
        out.append(std::to_string(next_index_));
    }

    void delta(std::string& out, block kind, std::string_view type, std::string_view field,
               std::string_view text) {
        if (open_ != kind) {
            close_all(out);
            open(out, kind);
        }
        start_delta(out);
        out.append(R"(,"delta":{"type":")");
        out.append(type);
        out.append(R"(",")");
        out.append(field);
        out.append(R"(":)");
        aignehub::detail::append_json_string(out, text);
        out.append("}}\n\n");
    }

    void arguments_delta(std::string& out, std::string_view json) const {
        start_delta(out);
        out.append(R"(,"delta":{"type":"input_json_delta","partial_json":)");
        aignehub::detail::append_json_string(out, json);
        out.append("}}\n\n");
    }

    // Calls stream one after another on most providers: a call gets its block when it begins.
    // A call that begins while another call's block is open waits (its arguments held) until
    // that block closes, because OpenAI's parallel calls may interleave their arguments and a
    // closed Anthropic block cannot take more.
    void tool_call(const canon::event& e, std::string& out) {
        if (calls_.contains(e.index)) {
            return;
        }
        call& c = calls_[e.index];
        c.id = e.id.empty() ? "toolu_" + random_hex(12) : e.id;
        c.name = e.name;
        if (open_ == block::tool) {
            waiting_.push_back(e.index);
            return;
        }
        close_all(out);
        open_tool(out, c);
        open_call_ = e.index;
    }

    void tool_arguments(const canon::event& e, std::string& out) {
        if (e.text.empty()) {
            return;
        }
        if (open_ == block::tool && open_call_ == e.index) {
            arguments_delta(out, e.text);
            return;
        }
        const auto c = calls_.find(e.index);
        if (c != calls_.end() && !c->second.opened) {
            c->second.arguments.append(e.text);
        }
        // Arguments for a call whose block has closed cannot be placed: a provider that sends
        // a call's arguments after other content is not one this gateway has met.
    }

    bool started_ = false;
    bool have_start_ = false;
    std::string id_;
    std::string model_;
    block open_ = block::none;
    int open_call_ = -1;
    int next_index_ = 0;
    std::map<int, call> calls_;
    std::vector<int> waiting_;
    canon::finish reason_ = canon::finish::none;
    std::string stop_sequence_;
    usage_counts usage_;
};

// ---- decode_request --------------------------------------------------------------------------

bad_field invalid(const std::string& path, std::string_view what) {
    return bad_field{path, path + ": " + std::string(what), "invalid_request"};
}

std::string at(const std::string& path, std::size_t i) {
    return path + "." + std::to_string(i);
}

std::optional<bad_field> read_cache_control(const ojson& block, const std::string& path,
                                            ojson& out) {
    const ojson& cc = member(block, "cache_control");
    if (cc.is_null()) {
        return std::nullopt;
    }
    if (!cc.is_object()) {
        return invalid(path + ".cache_control", "Input should be a valid dictionary");
    }
    out = cc;
    return std::nullopt;
}

std::optional<bad_field> required_string(const ojson& object, std::string_view key,
                                         const std::string& path, std::string& out) {
    const ojson& v = member(object, key);
    const std::string where = path + "." + std::string(key);
    if (v.is_null()) {
        return invalid(where, "Field required");
    }
    if (!v.is_string()) {
        return invalid(where, "Input should be a valid string");
    }
    out = v.get<std::string>();
    return std::nullopt;
}

// An image or document block: its source (base64 or url, or text for a document) and a
// document's title.
std::optional<bad_field> read_media(const ojson& block, const std::string& path,
                                    canon::part_kind kind, canon::part& out) {
    out.kind = kind;
    const bool document = kind == canon::part_kind::document;
    const ojson& source = member(block, "source");
    const std::string where = path + ".source";
    if (!source.is_object()) {
        return invalid(where,
                       source.is_null() ? "Field required" : "Input should be a valid dictionary");
    }
    std::string type;
    if (auto bad = required_string(source, "type", where, type)) {
        return bad;
    }
    std::optional<bad_field> bad;
    if (type == "base64") {
        bad = required_string(source, "media_type", where, out.media_type);
        if (!bad) {
            bad = required_string(source, "data", where, out.data);
        }
    } else if (type == "url") {
        bad = required_string(source, "url", where, out.url);
    } else if (type == "text" && document) {
        out.media_type = "text/plain";
        bad = required_string(source, "data", where, out.text);
    } else {
        return invalid(where + ".type",
                       document ? "this gateway accepts base64, text and url document sources"
                                : "this gateway accepts base64 and url image sources");
    }
    if (bad || !document) {
        return bad;
    }
    if (const ojson& title = member(block, "title"); title.is_string()) {
        out.title = title.get<std::string>();
    } else if (!title.is_null()) {
        return invalid(path + ".title", "Input should be a valid string");
    }
    return std::nullopt;
}

// The type of a content block, which must be an object that has one.
std::optional<bad_field> block_type(const ojson& block, const std::string& where,
                                    std::string& type) {
    if (!block.is_object()) {
        return invalid(where, "Input should be a valid dictionary");
    }
    const ojson& value = member(block, "type");
    if (!value.is_string()) {
        return invalid(where + ".type", "Field required");
    }
    type = value.get<std::string>();
    return std::nullopt;
}

// A text, image or document block (the content of a user turn or of a tool result).
std::optional<bad_field> read_content(const ojson& block, const std::string_view type,
                                      const std::string& path, canon::part& out) {
    if (type == "text") {
        out.kind = canon::part_kind::text;
        if (auto bad = required_string(block, "text", path, out.text)) {
            return bad;
        }
    } else if (type == "image" || type == "document") {
        if (auto bad = read_media(
                block, path, type == "image" ? canon::part_kind::image : canon::part_kind::document,
                out)) {
            return bad;
        }
    } else {
        return invalid(path + ".type", "'" + std::string(type) + "' blocks are not supported here");
    }
    return read_cache_control(block, path, out.cache_control);
}

std::optional<bad_field> read_tool_result(const ojson& block, const std::string& path,
                                          canon::part& out) {
    out.kind = canon::part_kind::tool_result;
    if (auto bad = required_string(block, "tool_use_id", path, out.id)) {
        return bad;
    }
    const ojson& content = member(block, "content");
    if (content.is_string()) {
        out.content.push_back(make_part(canon::part_kind::text, content.get<std::string>()));
    } else if (content.is_array()) {
        for (std::size_t k = 0; k < content.size(); ++k) {
            const std::string where = at(path + ".content", k);
            const ojson& inner = content[k];
            std::string type;
            if (auto bad = block_type(inner, where, type)) {
                return bad;
            }
            canon::part p;
            if (auto bad = read_content(inner, type, where, p)) {
                return bad;
            }
            out.content.push_back(std::move(p));
        }
    } else if (!content.is_null()) {
        return invalid(path + ".content", "Input should be a valid string or list");
    }
    if (const ojson& is_error = member(block, "is_error"); is_error.is_boolean()) {
        out.is_error = is_error.get<bool>();
    } else if (!is_error.is_null()) {
        return invalid(path + ".is_error", "Input should be a valid boolean");
    }
    return read_cache_control(block, path, out.cache_control);
}

std::optional<bad_field> read_message(const ojson& m, const std::string& path,
                                      std::vector<canon::message>& out) {
    if (!m.is_object()) {
        return invalid(path, "Input should be a valid dictionary");
    }
    const ojson& role = member(m, "role");
    if (role.is_null()) {
        return invalid(path + ".role", "Field required");
    }
    if (role != "user" && role != "assistant") {
        return invalid(path + ".role", "Input should be 'user' or 'assistant'");
    }
    const bool assistant = role == "assistant";
    canon::message message;
    message.who = assistant ? canon::role::assistant : canon::role::user;
    const ojson& content = member(m, "content");
    if (content.is_string()) {
        message.parts.push_back(make_part(canon::part_kind::text, content.get<std::string>()));
        out.push_back(std::move(message));
        return std::nullopt;
    }
    if (!content.is_array()) {
        return invalid(path + ".content",
                       content.is_null() ? "Field required" : "Input should be a valid list");
    }
    for (std::size_t j = 0; j < content.size(); ++j) {
        const std::string where = at(path + ".content", j);
        const ojson& block = content[j];
        std::string type;
        if (auto bad = block_type(block, where, type)) {
            return bad;
        }
        canon::part p;
        if (type == "tool_result") {
            if (assistant) {
                return invalid(where + ".type", "tool_result blocks belong in user messages");
            }
            if (auto bad = read_tool_result(block, where, p)) {
                return bad;
            }
            // A tool result is a turn of its own in the canonical model, before the rest of
            // the user's turn.
            canon::message turn;
            turn.who = canon::role::tool;
            turn.parts.push_back(std::move(p));
            out.push_back(std::move(turn));
            continue;
        }
        if (type == "tool_use" || type == "thinking" || type == "redacted_thinking") {
            if (!assistant) {
                return invalid(where + ".type", type + " blocks belong in assistant messages");
            }
            if (type == "tool_use") {
                p.kind = canon::part_kind::tool_call;
                if (auto bad = required_string(block, "id", where, p.id)) {
                    return bad;
                }
                if (auto bad = required_string(block, "name", where, p.name)) {
                    return bad;
                }
                const ojson& input = member(block, "input");
                if (!input.is_object()) {
                    return invalid(where + ".input", input.is_null()
                                                         ? "Field required"
                                                         : "Input should be a valid dictionary");
                }
                p.arguments = dump(input);
                if (auto bad = read_cache_control(block, where, p.cache_control)) {
                    return bad;
                }
            } else if (type == "thinking") {
                p.kind = canon::part_kind::reasoning;
                if (auto bad = required_string(block, "thinking", where, p.text)) {
                    return bad;
                }
                if (auto bad = required_string(block, "signature", where, p.signature)) {
                    return bad;
                }
            } else {
                p.kind = canon::part_kind::redacted_reasoning;
                if (auto bad = required_string(block, "data", where, p.data)) {
                    return bad;
                }
            }
        } else if (auto bad = read_content(block, type, where, p)) {
            return bad;
        }
        message.parts.push_back(std::move(p));
    }
    // A user turn of tool results only has no user message left; an empty list stays a turn.
    if (!message.parts.empty() || content.empty()) {
        out.push_back(std::move(message));
    }
    return std::nullopt;
}

std::optional<bad_field> read_system(const ojson& system, canon::chat_request& out) {
    if (system.is_string()) {
        if (!system.get<std::string>().empty()) {
            out.system.push_back(make_part(canon::part_kind::text, system.get<std::string>()));
        }
        return std::nullopt;
    }
    if (!system.is_array()) {
        return invalid("system", "Input should be a valid string or list");
    }
    for (std::size_t i = 0; i < system.size(); ++i) {
        const std::string where = at("system", i);
        const ojson& block = system[i];
        if (!block.is_object()) {
            return invalid(where, "Input should be a valid dictionary");
        }
        if (member(block, "type") != "text") {
            return invalid(where + ".type", "Input should be 'text'");
        }
        canon::part p;
        if (auto bad = required_string(block, "text", where, p.text)) {
            return bad;
        }
        if (auto bad = read_cache_control(block, where, p.cache_control)) {
            return bad;
        }
        out.system.push_back(std::move(p));
    }
    return std::nullopt;
}

std::optional<bad_field> read_tools(const ojson& tools, canon::chat_request& out) {
    if (!tools.is_array()) {
        return invalid("tools", "Input should be a valid list");
    }
    for (std::size_t i = 0; i < tools.size(); ++i) {
        const std::string where = at("tools", i);
        const ojson& t = tools[i];
        if (!t.is_object()) {
            return invalid(where, "Input should be a valid dictionary");
        }
        if (const ojson& type = member(t, "type"); !type.is_null() && type != "custom") {
            return invalid(where + ".type", "server tools (" +
                                                (type.is_string() ? type.get<std::string>() : "?") +
                                                ") are not supported by this gateway");
        }
        canon::tool tool;
        if (auto bad = required_string(t, "name", where, tool.name)) {
            return bad;
        }
        if (const ojson& d = member(t, "description"); d.is_string()) {
            tool.description = d.get<std::string>();
        } else if (!d.is_null()) {
            return invalid(where + ".description", "Input should be a valid string");
        }
        const ojson& schema = member(t, "input_schema");
        if (!schema.is_object()) {
            return invalid(where + ".input_schema", schema.is_null()
                                                        ? "Field required"
                                                        : "Input should be a valid dictionary");
        }
        tool.parameters = schema;
        if (const ojson& strict = member(t, "strict"); strict.is_boolean()) {
            tool.strict = strict.get<bool>();
        }
        if (auto bad = read_cache_control(t, where, tool.cache_control)) {
            return bad;
        }
        out.tools.push_back(std::move(tool));
    }
    return std::nullopt;
}

std::optional<bad_field> read_tool_choice(const ojson& choice, canon::chat_request& out) {
    if (!choice.is_object()) {
        return invalid("tool_choice", "Input should be a valid dictionary");
    }
    const ojson& type = member(choice, "type");
    if (type == "auto") {
        out.tool_choice = canon::tool_mode::automatic;
    } else if (type == "any") {
        out.tool_choice = canon::tool_mode::required;
    } else if (type == "none") {
        out.tool_choice = canon::tool_mode::none;
    } else if (type == "tool") {
        out.tool_choice = canon::tool_mode::named;
        if (auto bad = required_string(choice, "name", "tool_choice", out.tool_name)) {
            return bad;
        }
    } else {
        return invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'");
    }
    if (const ojson& d = member(choice, "disable_parallel_tool_use"); d.is_boolean()) {
        if (d.get<bool>()) {
            out.parallel_tool_calls = false;
        }
    } else if (!d.is_null()) {
        return invalid("tool_choice.disable_parallel_tool_use", "Input should be a valid boolean");
    }
    return std::nullopt;
}

std::optional<bad_field> read_thinking(const ojson& thinking, canon::chat_request& out) {
    if (!thinking.is_object()) {
        return invalid("thinking", "Input should be a valid dictionary");
    }
    const ojson& type = member(thinking, "type");
    if (type == "disabled") {
        out.reasoning_budget = 0;
        return std::nullopt;
    }
    if (type != "enabled") {
        return invalid("thinking.type", "Input should be 'enabled' or 'disabled'");
    }
    const ojson& budget = member(thinking, "budget_tokens");
    const auto tokens = integer_of(budget);
    if (!tokens) {
        return invalid("thinking.budget_tokens",
                       budget.is_null() ? "Field required" : "Input should be a valid integer");
    }
    if (*tokens < 1024) {
        return invalid("thinking.budget_tokens", "Input should be greater than or equal to 1024");
    }
    out.reasoning_budget = *tokens;
    return std::nullopt;
}

std::optional<bad_field> read_number(const ojson& v, std::string_view name, double low, double high,
                                     std::optional<double>& out) {
    if (!v.is_number()) {
        return invalid(std::string(name), "Input should be a valid number");
    }
    const double d = v.get<double>();
    if (d < low || d > high) {
        return invalid(std::string(name), "Input should be between " +
                                              std::to_string(static_cast<int>(low)) + " and " +
                                              std::to_string(static_cast<int>(high)));
    }
    out = d;
    return std::nullopt;
}

std::optional<bad_field> read_top_level(std::string_view key, const ojson& v,
                                        canon::chat_request& out) {
    const std::string name(key);
    if (key == "model") {
        if (!v.is_string() || v.get<std::string>().empty()) {
            return invalid(name, "Input should be a non-empty string");
        }
        out.model = v.get<std::string>();
    } else if (key == "max_tokens") {
        const auto tokens = integer_of(v);
        if (!tokens) {
            return invalid(name, "Input should be a valid integer");
        }
        if (*tokens < 1) {
            return invalid(name, "Input should be greater than or equal to 1");
        }
        out.max_tokens = *tokens;
    } else if (key == "messages") {
        if (!v.is_array()) {
            return invalid(name, "Input should be a valid list");
        }
        if (v.empty()) {
            return invalid(name, "at least one message is required");
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (auto bad = read_message(v[i], at("messages", i), out.messages)) {
                return bad;
            }
        }
    } else if (key == "system") {
        return read_system(v, out);
    } else if (key == "tools") {
        return read_tools(v, out);
    } else if (key == "tool_choice") {
        return read_tool_choice(v, out);
    } else if (key == "thinking") {
        return read_thinking(v, out);
    } else if (key == "stop_sequences") {
        if (!v.is_array()) {
            return invalid(name, "Input should be a valid list");
        }
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string()) {
                return invalid(at(name, i), "Input should be a valid string");
            }
            out.stop.push_back(v[i].get<std::string>());
        }
    } else if (key == "temperature") {
        return read_number(v, key, 0.0, 1.0, out.temperature);
    } else if (key == "top_p") {
        return read_number(v, key, 0.0, 1.0, out.top_p);
    } else if (key == "top_k") {
        const auto k = integer_of(v);
        if (!k || *k < 0) {
            return invalid(name, "Input should be a non-negative integer");
        }
        out.top_k = *k;
    } else if (key == "stream") {
        if (!v.is_boolean()) {
            return invalid(name, "Input should be a valid boolean");
        }
        out.stream = v.get<bool>();
        out.include_usage = out.stream; // Anthropic's streams always carry usage
    } else if (key == "metadata") {
        if (!v.is_object()) {
            return invalid(name, "Input should be a valid dictionary");
        }
        if (const ojson& user = member(v, "user_id"); user.is_string()) {
            out.user = user.get<std::string>();
        } else if (!user.is_null()) {
            return invalid("metadata.user_id", "Input should be a valid string");
        }
    } else if (key == "service_tier") {
        // a scheduling hint for Anthropic's own capacity; nothing to carry
    } else if (key == "container" || key == "mcp_servers" || key == "context_management") {
        return invalid(name, "not supported by this gateway");
    } else {
        return invalid(name, "Extra inputs are not permitted");
    }
    return std::nullopt;
}

// ---- passthrough -----------------------------------------------------------------------------

// The "event:" name of a raw SSE event, read without parsing it; empty when the event does not
// begin with one.
std::string_view event_name(std::string_view raw) {
    if (!raw.starts_with("event:")) {
        return {};
    }
    std::string_view name = raw.substr(6);
    name = name.substr(0, name.find('\n'));
    if (!name.empty() && name.back() == '\r') {
        name.remove_suffix(1);
    }
    while (!name.empty() && name.front() == ' ') {
        name.remove_prefix(1);
    }
    return name;
}

} // namespace

std::int64_t default_max_tokens(std::string_view model) {
    if (model.starts_with("claude-3-5") || model.starts_with("claude-3-7") ||
        model.starts_with("claude-3.5") || model.starts_with("claude-3.7")) {
        return 8192;
    }
    if (model.starts_with("claude-3") || model.starts_with("claude-2") ||
        model.starts_with("claude-instant")) {
        return 4096;
    }
    return 32000;
}

std::optional<bad_field> encode_request(const canon::chat_request& request, std::string_view model,
                                        std::string& out) {
    return encode_body(request, model, false, out);
}

std::optional<bad_field> encode_count_request(const canon::chat_request& request,
                                              std::string_view model, std::string& out) {
    return encode_body(request, model, true, out);
}

bool decode_answer(std::string_view body, canon::chat_answer& out) {
    const auto top = scan_object(body);
    if (!top) {
        return false;
    }
    bool is_message = true;
    bool has_content = false;
    raw_usage usage;
    bool has_usage = false;
    scan::members(*top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "type")) {
            is_message = v.type == scan::kind::string && scan::text_of(v) == "message";
        } else if (scan::key_is(key, "id") && v.type == scan::kind::string) {
            out.id = scan::text_of(v);
        } else if (scan::key_is(key, "model") && v.type == scan::kind::string) {
            out.model = scan::text_of(v);
        } else if (scan::key_is(key, "stop_reason") && v.type == scan::kind::string) {
            out.reason = finish_of(scan::text_of(v));
        } else if (scan::key_is(key, "stop_sequence") && v.type == scan::kind::string) {
            out.stop_sequence = scan::text_of(v);
        } else if (scan::key_is(key, "usage") && v.type == scan::kind::object) {
            read_usage(v, usage);
            has_usage = true;
        } else if (scan::key_is(key, "content") && v.type == scan::kind::array) {
            has_content = true;
            scan::elements(v, [&](const scan::value& element) {
                if (element.type != scan::kind::object) {
                    return true;
                }
                block_fields b = fields_of(element);
                if (b.type == "text") {
                    out.parts.push_back(make_part(canon::part_kind::text, std::move(b.text)));
                } else if (b.type == "thinking") {
                    canon::part p = make_part(canon::part_kind::reasoning, std::move(b.thinking));
                    p.signature = std::move(b.signature);
                    out.parts.push_back(std::move(p));
                } else if (b.type == "redacted_thinking") {
                    canon::part p = make_part(canon::part_kind::redacted_reasoning);
                    p.data = std::move(b.data);
                    out.parts.push_back(std::move(p));
                } else if (b.type == "tool_use") {
                    canon::part p = make_part(canon::part_kind::tool_call);
                    p.id = std::move(b.id);
                    p.name = std::move(b.name);
                    p.arguments = arguments_of(b.input);
                    out.parts.push_back(std::move(p));
                }
                // server tool blocks (never asked for by this gateway) are left out
                return true;
            });
        }
        return true;
    });
    if (has_usage) {
        out.usage = counts_of(usage);
    }
    if (out.reason != canon::finish::stop_sequence) {
        out.stop_sequence.clear();
    }
    return is_message && has_content;
}

std::unique_ptr<canon::stream_decoder> make_stream_decoder() {
    return std::make_unique<decoder>();
}

upstream_error read_error(unsigned status, std::string_view body) {
    upstream_error out;
    out.type = std::string(error_type(status));
    const ojson parsed = ojson::parse(body, nullptr, false);
    if (parsed.is_object()) {
        const ojson& error = member(parsed, "error");
        if (error.is_object()) {
            if (const ojson& m = member(error, "message"); m.is_string()) {
                out.message = m.get<std::string>();
            }
            if (const ojson& t = member(error, "type"); t.is_string() && !t.empty()) {
                out.type = t.get<std::string>();
            }
        } else if (error.is_string()) {
            out.message = error.get<std::string>();
        } else if (const ojson& m = member(parsed, "message"); m.is_string()) {
            out.message = m.get<std::string>();
        }
    }
    out.code = out.type;
    if (out.message.empty()) {
        out.message = "the provider answered " + std::to_string(status);
        if (!body.empty()) {
            out.message.append(": ");
            out.message.append(body);
        }
        out.message = clean_text(out.message, 500);
    } else {
        out.message = clean_text(out.message, 1000);
    }
    if (status == 529 || out.type == "overloaded_error") {
        out.status = 503;
    }
    return out;
}

std::optional<bad_field> decode_request(std::string_view body, canon::chat_request& out) {
    const ojson parsed = ojson::parse(body, nullptr, false);
    if (parsed.is_discarded()) {
        return bad_field{"", "The request body is not valid JSON.", "invalid_json"};
    }
    if (!parsed.is_object()) {
        return bad_field{"", "The request body must be a JSON object.", "invalid_request"};
    }
    for (const auto& [key, value] : parsed.items()) {
        if (value.is_null() && key != "model" && key != "max_tokens" && key != "messages") {
            continue; // an optional field given as null is a field not given
        }
        if (auto bad = read_top_level(key, value, out)) {
            return bad;
        }
    }
    for (const std::string_view required : {"model", "max_tokens", "messages"}) {
        if (!parsed.contains(required)) {
            return invalid(std::string(required), "Field required");
        }
    }
    return std::nullopt;
}

std::string encode_answer(const canon::chat_answer& answer) {
    ojson content = ojson::array();
    for (const auto& p : answer.parts) {
        switch (p.kind) {
        case canon::part_kind::text:
            if (!p.text.empty()) {
                content.push_back({{"type", "text"}, {"text", p.text}});
            }
            break;
        case canon::part_kind::reasoning:
            content.push_back(
                {{"type", "thinking"}, {"thinking", p.text}, {"signature", p.signature}});
            break;
        case canon::part_kind::redacted_reasoning:
            content.push_back({{"type", "redacted_thinking"}, {"data", p.data}});
            break;
        case canon::part_kind::tool_call: {
            ojson input = ojson::parse(p.arguments, nullptr, false);
            if (input.is_discarded() || !input.is_object()) {
                input = ojson::object();
            }
            content.push_back(
                {{"type", "tool_use"}, {"id", p.id}, {"name", p.name}, {"input", input}});
            break;
        }
        default:
            break; // answers hold no images, documents or tool results
        }
    }
    ojson out = ojson::object();
    out["id"] = message_id(answer.id);
    out["type"] = "message";
    out["role"] = "assistant";
    out["model"] = answer.model;
    out["content"] = std::move(content);
    out["stop_reason"] = stop_reason_of(answer.reason);
    out["stop_sequence"] = answer.reason == canon::finish::stop_sequence
                               ? ojson(answer.stop_sequence)
                               : ojson(nullptr);
    out["usage"] = usage_json(answer.usage, true);
    return dump(out);
}

std::unique_ptr<canon::stream_encoder> make_stream_encoder() {
    return std::make_unique<encoder>();
}

std::string error_body(unsigned status, std::string_view message) {
    std::string out = R"({"type":"error","error":{"type":")";
    out.append(error_type(status));
    out.append(R"(","message":)");
    aignehub::detail::append_json_string(out, message);
    out.append("}}");
    return out;
}

void append_error_event(std::string& out, unsigned status, std::string_view message) {
    append_event(out, "error", error_body(status, message));
}

std::optional<bad_field> read_passthrough(std::string_view body, request_view& out) {
    if (!scan::valid(body)) {
        return bad_field{"", "The request body is not valid JSON.", "invalid_json"};
    }
    const scan::value top = scan::document(body);
    if (top.type != scan::kind::object) {
        return bad_field{"", "The request body must be a JSON object.", "invalid_request"};
    }
    out.body = body;
    out.close = static_cast<std::size_t>(top.text.data() - body.data()) + top.text.size() - 1;
    std::optional<bad_field> bad;
    std::optional<scan::value> model;
    bool has_stream = false;
    scan::members(top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "model")) {
            if (model) {
                bad = invalid("model", "given more than once");
                return false;
            }
            model = v;
        } else if (scan::key_is(key, "stream")) {
            if (has_stream) {
                bad = invalid("stream", "given more than once");
                return false;
            }
            has_stream = true;
            if (v.type != scan::kind::boolean && v.type != scan::kind::null) {
                bad = invalid("stream", "Input should be a valid boolean");
                return false;
            }
            out.stream = v.text == "true";
        }
        return true;
    });
    if (bad) {
        return bad;
    }
    if (!model) {
        return invalid("model", "Field required");
    }
    if (model->type != scan::kind::string) {
        return invalid("model", "Input should be a valid string");
    }
    out.model = scan::text_of(*model);
    if (out.model.empty()) {
        return invalid("model", "String should have at least 1 character");
    }
    out.model_at = {static_cast<std::size_t>(model->text.data() - body.data()), model->text.size()};
    return std::nullopt;
}

bool read_answer(std::string_view body, answer_facts& out) {
    const auto top = scan_object(body);
    if (!top) {
        return false;
    }
    scan::members(*top, [&](std::string_view key, const scan::value& v) {
        if (scan::key_is(key, "model") && v.type == scan::kind::string) {
            out.model = scan::text_of(v);
        } else if (scan::key_is(key, "usage") && v.type == scan::kind::object) {
            out.usage = usage_of(v);
        }
        return true;
    });
    return true;
}

chunk_result process_event(std::string_view raw, stream_state& state) {
    std::string_view name = event_name(raw);
    if (!name.empty() && name != "message_start" && name != "message_delta" &&
        name != "message_stop" && name != "error") {
        return {}; // content deltas, pings and block boundaries pass unparsed
    }
    const sse_event e = parse_event(raw);
    const bool valid = !e.data.empty() && scan::valid(e.data);
    const scan::value top = valid ? scan::document(e.data) : scan::value{};
    const bool object = valid && top.type == scan::kind::object;
    if (name.empty() && object) {
        name = type_of(top); // a data-only event: its JSON says what it is
    }
    if (name == "message_stop") {
        return {chunk_verdict::done, {}};
    }
    if (name == "error") {
        state.error = object ? error_of(top).message
                             : (e.data.empty() ? std::string("the provider reported an error in "
                                                             "the stream")
                                               : clean_text(e.data, 500));
        return {chunk_verdict::error, {}};
    }
    if (!object) {
        return {};
    }
    if (name == "message_start") {
        scan::members(top, [&](std::string_view key, const scan::value& message) {
            if (scan::key_is(key, "message") && message.type == scan::kind::object) {
                scan::members(message, [&](std::string_view k, const scan::value& v) {
                    if (scan::key_is(k, "model") && v.type == scan::kind::string) {
                        state.model = scan::text_of(v);
                    } else if (scan::key_is(k, "usage") && v.type == scan::kind::object) {
                        state.usage = usage_of(v);
                    }
                    return true;
                });
            }
            return true;
        });
    } else if (name == "message_delta") {
        scan::members(top, [&](std::string_view key, const scan::value& v) {
            if (scan::key_is(key, "usage") && v.type == scan::kind::object) {
                raw_usage usage = state.usage.reported ? raw_of(state.usage) : raw_usage{};
                raw_usage delta;
                read_usage(v, delta);
                merge(usage, delta);
                state.usage = counts_of(usage);
            }
            return true;
        });
    }
    return {};
}

} // namespace aignehub::gateway::anthropic
