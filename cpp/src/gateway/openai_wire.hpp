#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

/// The OpenAI wire family (openai, deepseek, xai, openrouter, mistral, groq, ollama's /v1,
/// doubao, any OpenAI-compatible server): checking what clients send, and normalising what the
/// providers answer, quirks included. Requests and answers keep their fields in order
/// (ordered_json), so what passes through reads as the provider wrote it.
namespace aignehub::gateway {

using ojson = nlohmann::ordered_json;

/// Compact JSON text; invalid UTF-8 from a provider becomes U+FFFD instead of an exception.
[[nodiscard]] std::string dump(const ojson& value);

/// Token counts as a provider reported them, in OpenAI's terms: `prompt` counts every input
/// token (cache reads and writes included), `completion` every output token (reasoning
/// included).
struct usage_counts {
    std::int64_t prompt = 0;
    std::int64_t completion = 0;
    std::int64_t cached = 0;         ///< input tokens read from the provider's prompt cache
    std::int64_t cache_write_5m = 0; ///< input tokens written to a 5-minute cache entry
    std::int64_t cache_write_1h = 0; ///< input tokens written to a 1-hour cache entry
    std::int64_t reasoning = 0;
    bool reported = false;
};

/// A request field that is wrong: the OpenAI error's `param` and a message.
struct bad_field {
    std::string param;
    std::string message;
    std::string code; ///< invalid_json or invalid_request
};

/// What a client asks for: a chat answer (OpenAI chat completions, Anthropic messages),
/// embeddings, images, or the count of a chat request's input tokens.
enum class endpoint { chat, embeddings, images, count_tokens };

/// A client's request as the gateway needs it: the fields it reads, and where in the body the
/// parts it rewrites are (offset, length), so that the upstream body is the client's bytes with
/// two splices rather than a re-serialised document.
struct request_view {
    std::string_view body;
    std::string model;
    bool stream = false;
    bool wants_usage = false; ///< stream_options.include_usage was true
    std::pair<std::size_t, std::size_t> model_at{};
    std::optional<std::pair<std::size_t, std::size_t>> options; ///< stream_options' value
    bool options_null = false;
    std::optional<std::pair<std::size_t, std::size_t>> include_usage; ///< its value
    std::size_t close = 0; ///< the top-level object's closing brace
    /// The body a front door rewrote into OpenAI's terms (AIGNE image and embedding requests),
    /// which `body` then views.
    std::string converted;
};

/// Checks a client's body without building a DOM: valid JSON (UTF-8 included), an object, the
/// fields the gateway relies on, the types of the known fields (unknown fields are left to the
/// provider), no repeated model, messages, stream or stream_options. nullopt when the body may
/// be forwarded; `out` then describes it (and views `body`, which must outlive it).
[[nodiscard]] std::optional<bad_field> read_request(endpoint which, std::string_view body,
                                                    request_view& out);

/// The body to send upstream: the client's, with `model_id` as the model and, on a stream,
/// stream_options.include_usage set to true.
[[nodiscard]] std::string upstream_body(const request_view& request, std::string_view model_id);

/// What the gateway reads of a whole answer, found without building a DOM.
struct answer_facts {
    std::string model;
    usage_counts usage;
    std::int64_t items = 0; ///< elements of "data" (images, embeddings)
    bool quirks = false;    ///< normalise_chat has work to do: parse it into a DOM
};

/// Reads an answer's model, usage and data count; false when `body` is not a JSON object.
[[nodiscard]] bool read_answer(std::string_view body, answer_facts& out);

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
    /// The status to treat the answer as, when the provider's own is misleading (Gemini answers
    /// a bad key with 400 API_KEY_INVALID: that is a 401); 0 keeps the provider's.
    unsigned status = 0;
};

/// Reads a provider's error answer, whatever its shape or content type ({"error":{...}},
/// {"error":"..."}, {"detail":...}, {"message":...}, text or HTML). Messages are cut to a sane
/// length and never hold control characters.
[[nodiscard]] upstream_error read_error(unsigned status, std::string_view body);

/// Appends `event: <data>` framing of OpenAI's stream error: `data: {"error":{...}}\n\n`.
void append_error_event(std::string& out, std::string_view message, std::string_view type,
                        std::string_view code);

} // namespace aignehub::gateway
