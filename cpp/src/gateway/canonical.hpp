#pragma once

#include "gateway/openai_wire.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

/// The canonical chat model (decision 1 of ARCHITECTURE.md): what every front door decodes a
/// client's chat request into, what every provider adapter encodes from, and what answers and
/// stream events are decoded into on the way back. One decoder and one encoder per wire; a
/// client and a provider that speak the same wire skip it and relay bytes.
namespace aignehub::gateway::canon {

enum class role { user, assistant, tool };

enum class part_kind {
    text,
    image,              ///< `data` (base64) + `media_type`, or `url`
    document,           ///< a PDF or plain-text document: `data` + `media_type`, `url`, or `text`
    reasoning,          ///< the model's thinking: `text`, and the provider's `signature`
    redacted_reasoning, ///< thinking the provider encrypted: `data` (opaque)
    tool_call,          ///< `id`, `name`, `arguments` (a JSON object's text)
    tool_result,        ///< `id` (the call it answers), `content` (text and image parts)
};

/// One piece of a message. Only the fields of its kind are set.
struct part {
    part_kind kind = part_kind::text;
    std::string text;
    std::string signature;
    std::string media_type;
    std::string data;
    std::string url;
    std::string title;
    std::string id;
    std::string name;
    std::string arguments;
    std::vector<part> content;
    bool is_error = false;
    /// A prompt-cache breakpoint on this part, as the client wrote it ({"type":"ephemeral",
    /// "ttl":"1h"}); null when there is none.
    ojson cache_control;
};

/// A turn of the conversation. The system prompt is not a message (chat_request::system); a
/// tool turn holds exactly one tool_result part.
struct message {
    role who = role::user;
    std::vector<part> parts;
};

struct tool {
    std::string name;
    std::string description;
    ojson parameters; ///< a JSON Schema object; {"type":"object","properties":{}} when none
    bool strict = false;
    ojson cache_control;
};

enum class tool_mode { unset, automatic, none, required, named };

enum class response_format { text, json_object, json_schema };

struct chat_request {
    std::string model;
    std::vector<part> system; ///< text parts, in order
    std::vector<message> messages;
    std::vector<tool> tools;
    tool_mode tool_choice = tool_mode::unset;
    std::string tool_name; ///< tool_mode::named
    std::optional<bool> parallel_tool_calls;
    std::optional<std::int64_t> max_tokens;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<std::int64_t> top_k;
    std::vector<std::string> stop;
    std::optional<double> presence_penalty;
    std::optional<double> frequency_penalty;
    std::optional<std::int64_t> seed;
    /// Thinking asked for: a token budget (0 turns thinking off), or an effort level
    /// ("minimal", "low", "medium", "high") that each encoder maps onto its provider's terms.
    std::optional<std::int64_t> reasoning_budget;
    std::string reasoning_effort;
    response_format format = response_format::text;
    ojson schema; ///< json_schema: the schema
    std::string schema_name;
    bool schema_strict = false;
    std::string user; ///< an end-user id for the provider's abuse monitoring
    bool stream = false;
    bool include_usage = false; ///< the client asked for usage in its stream
};

enum class finish { none, stop, stop_sequence, length, tool_calls, content_filter, pause };

/// A whole answer. `parts` holds text, reasoning, redacted_reasoning and tool_call parts in the
/// order the model produced them.
struct chat_answer {
    std::string id;
    std::string model;
    std::int64_t created = 0; ///< Unix seconds; 0: the encoder uses the current time
    std::vector<part> parts;
    finish reason = finish::none;
    std::string stop_sequence; ///< finish::stop_sequence: which one
    usage_counts usage;
};

/// One step of a streamed answer, whatever wire it came from.
enum class event_kind {
    start,              ///< `id`, `name` (the model); first, once
    text,               ///< `text`: more answer text
    reasoning,          ///< `text`: more thinking
    signature,          ///< `text`: the signature of the thinking streamed so far
    redacted_reasoning, ///< `text`: a redacted thinking block's data
    tool_call,          ///< `index` (0, 1, ... per answer), `id`, `name`: a call begins
    tool_arguments,     ///< `index`, `text`: more of that call's arguments (JSON text)
    finish,             ///< `reason`, `stop_sequence`
    usage,              ///< `usage`: the counts so far (each replaces the last)
};

struct event {
    event_kind kind = event_kind::text;
    std::string text;
    std::string id;
    std::string name;
    int index = 0;
    finish reason = finish::none;
    std::string stop_sequence;
    usage_counts usage;
};

/// What a front door may put in an answer beside the model's output: who served it and the
/// request it answers.
struct answer_context {
    std::string_view provider;   ///< the provider's name in aignehub
    std::string_view model;      ///< the model id asked of the provider
    std::string_view request_id; ///< the x-request-id of the call
    bool include_usage = false;  ///< the client asked for usage in its stream (OpenAI)
    bool json_output = false;    ///< the client asked for a JSON answer (response format)
};

/// Turns one provider's stream events into canonical events. One per stream.
class stream_decoder {
public:
    stream_decoder() = default;
    stream_decoder(const stream_decoder&) = delete;
    stream_decoder& operator=(const stream_decoder&) = delete;
    stream_decoder(stream_decoder&&) = delete;
    stream_decoder& operator=(stream_decoder&&) = delete;
    virtual ~stream_decoder() = default;

    /// Decodes one upstream event, as event_splitter cut it (an SSE event with its framing, or
    /// one element of a JSON-array stream), appending what it means to `out`. An error the
    /// provider reported in the stream is returned (and ends the stream).
    virtual std::optional<upstream_error> feed(std::string_view raw, std::vector<event>& out) = 0;
    /// True once the provider said the stream is complete ([DONE], message_stop); streams that
    /// just end (Gemini's) are complete when the body ends.
    [[nodiscard]] virtual bool done() const noexcept = 0;
};

/// Turns canonical events into what one client protocol streams. One per stream.
class stream_encoder {
public:
    stream_encoder() = default;
    stream_encoder(const stream_encoder&) = delete;
    stream_encoder& operator=(const stream_encoder&) = delete;
    stream_encoder(stream_encoder&&) = delete;
    stream_encoder& operator=(stream_encoder&&) = delete;
    virtual ~stream_encoder() = default;

    /// Appends the client's bytes for `e` (possibly none).
    virtual void write(const event& e, std::string& out) = 0;
    /// Appends the bytes that complete the stream (closing events, usage, terminator). Called
    /// once, after the last event, when the stream ended well.
    virtual void finish(std::string& out) = 0;
    /// Appends the client protocol's error event, which ends the stream.
    virtual void fail(std::string& out, std::string_view message, std::string_view code) = 0;
};

} // namespace aignehub::gateway::canon
