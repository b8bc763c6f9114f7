#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// The OpenAI wire family (openai, deepseek, xai, openrouter, mistral, groq, ollama's /v1,
/// doubao, any OpenAI-compatible server): checking what clients send, and normalising what the
/// providers answer, quirks included. Requests and answers keep their fields in order
/// (ordered_json), so what passes through reads as the provider wrote it.
namespace aignehub::gateway {

using ojson = nlohmann::ordered_json;

/// Compact JSON text; invalid UTF-8 from a provider becomes U+FFFD instead of an exception.
[[nodiscard]] std::string dump(const ojson& value);

/// Token counts as a provider reported them.
struct usage_counts {
    std::int64_t prompt = 0;
    std::int64_t completion = 0;
    std::int64_t cached = 0;
    std::int64_t reasoning = 0;
    bool reported = false;
};

/// Reads `usage` (and Groq's `x_groq.usage`) from an answer or a stream chunk; false when it
/// holds none.
bool read_usage(const ojson& body, usage_counts& out);

/// A request field that is wrong: the OpenAI error's `param` and a message.
struct bad_field {
    std::string param;
    std::string message;
};

/// The endpoints of the front door.
enum class endpoint { chat, embeddings, images };

/// Checks the fields the gateway relies on and the types of the known fields; unknown fields
/// are left to the provider. nullopt when the body may be forwarded.
[[nodiscard]] std::optional<bad_field> check_request(endpoint which, const ojson& body);

/// Rewrites a chat answer of the family into the canonical OpenAI shape, in place: a
/// `reasoning` field also as `reasoning_content`, content given as an array of typed parts as
/// a string (thinking parts into `reasoning_content`), Groq's usage as `usage`. True when
/// something changed (the body must then be re-serialised).
bool normalise_chat(ojson& body);

/// What to do with one event of an upstream chat stream.
enum class chunk_verdict {
    pass,    ///< relay the event's bytes unchanged
    replace, ///< relay `replacement` instead
    drop,    ///< relay nothing
    done,    ///< the stream's `[DONE]`
    error,   ///< the provider reported an error in the stream: `error` holds it
};

/// One relayed chat stream.
struct stream_state {
    bool client_wants_usage = false;
    usage_counts usage;
    std::string model;
    std::optional<std::string> error; ///< the provider's message when it failed mid-stream
};

struct chunk_result {
    chunk_verdict verdict = chunk_verdict::pass;
    std::string replacement;
};

/// Looks at one server-sent event (raw bytes, terminator included): collects the served model
/// and the usage, normalises quirks, and drops the usage the client did not ask for. Events
/// that need nothing pass unparsed.
[[nodiscard]] chunk_result process_chat_event(std::string_view raw, stream_state& state);

/// An error answer of a provider in OpenAI's terms.
struct upstream_error {
    std::string message;
    std::string type;
    std::string code;
};

/// Reads a provider's error answer, whatever its shape or content type ({"error":{...}},
/// {"error":"..."}, {"detail":...}, {"message":...}, text or HTML). Messages are cut to a sane
/// length and never hold control characters.
[[nodiscard]] upstream_error read_error(unsigned status, std::string_view body);

/// Appends `event: <data>` framing of OpenAI's stream error: `data: {"error":{...}}\n\n`.
void append_error_event(std::string& out, std::string_view message, std::string_view type,
                        std::string_view code);

} // namespace aignehub::gateway
