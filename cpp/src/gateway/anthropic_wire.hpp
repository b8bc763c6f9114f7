#pragma once

#include "gateway/canonical.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

/// Anthropic's Messages API (POST /v1/messages, /v1/messages/count_tokens): both as a provider
/// wire (requests encoded from the canonical model, answers and streams decoded into it) and as
/// a client protocol (the Anthropic front door: requests decoded into the canonical model,
/// answers and streams encoded from it), plus the passthrough checks for when both sides speak
/// it.
namespace aignehub::gateway::anthropic {

/// The max_tokens sent when an OpenAI client gave none (Anthropic requires it): the model's
/// output limit, from its name (claude-3-* 4096, claude-3-5/3-7 8192, newer 32000).
[[nodiscard]] std::int64_t default_max_tokens(std::string_view model);

// ---- provider side -------------------------------------------------------------------------

/// The Messages API body for `request` with `model` as the model id. A canonical feature
/// Anthropic cannot honour is refused (bad_field::param names the client's field, the message
/// says why); pure hints are left out (see docs/translation.md).
[[nodiscard]] std::optional<bad_field> encode_request(const canon::chat_request& request,
                                                      std::string_view model, std::string& out);

/// A count_tokens body for `request` (model, system, messages, tools, tool_choice, thinking).
[[nodiscard]] std::optional<bad_field>
encode_count_request(const canon::chat_request& request, std::string_view model, std::string& out);

/// Reads a Messages API answer; false when it is not one.
[[nodiscard]] bool decode_answer(std::string_view body, canon::chat_answer& out);

/// The canonical events of an Anthropic stream (message_start, content_block_start/delta/
/// stop, message_delta, message_stop, ping, error), decoded incrementally.
[[nodiscard]] std::unique_ptr<canon::stream_decoder> make_stream_decoder();

/// A provider error answer ({"type":"error","error":{"type","message"}}) in OpenAI's terms:
/// type kept, code = the Anthropic error type; overloaded_error (529) is a 503.
[[nodiscard]] upstream_error read_error(unsigned status, std::string_view body);

// ---- client side (the front door) ----------------------------------------------------------

/// Decodes a client's Messages API body; a bad_field names the field at fault in Anthropic's
/// words (param = its path, e.g. "messages.0.content.1.source").
[[nodiscard]] std::optional<bad_field> decode_request(std::string_view body,
                                                      canon::chat_request& out);

/// The Messages API answer for `answer` (id "msg_..." kept or made, type "message", role
/// "assistant", content blocks, stop_reason, stop_sequence, usage with cache fields).
[[nodiscard]] std::string encode_answer(const canon::chat_answer& answer);

/// The stream of Messages API events for canonical events: message_start first, one content
/// block per text/thinking/tool_use run, message_delta (stop_reason, usage) and message_stop
/// from finish(); errors as `event: error`.
[[nodiscard]] std::unique_ptr<canon::stream_encoder> make_stream_encoder();

/// An error body in Anthropic's shape for an HTTP status and message:
/// {"type":"error","error":{"type":<by status>,"message":...}}. Types: 400
/// invalid_request_error, 401 authentication_error, 402 billing_error, 403 permission_error,
/// 404 not_found_error, 413 request_too_large, 429 rate_limit_error, 529 overloaded_error,
/// other 5xx api_error.
[[nodiscard]] std::string error_body(unsigned status, std::string_view message);

/// Appends `event: error` with that body, for a stream that fails after it began.
void append_error_event(std::string& out, unsigned status, std::string_view message);

// ---- passthrough (client and provider both speak it) ---------------------------------------

/// The facts the gateway needs of an Anthropic client's body without building a DOM: valid
/// JSON object, "model" a string (given once), "stream" a boolean if present. `out.model_at`
/// is where the model's string is, for the splice; `out.stream` is set.
[[nodiscard]] std::optional<bad_field> read_passthrough(std::string_view body, request_view& out);

/// Reads model and usage from a Messages API answer (passthrough).
[[nodiscard]] bool read_answer(std::string_view body, answer_facts& out);

/// One event of an Anthropic stream relayed as it is: message_start and message_delta are read
/// for the model and usage, `error` events report the error, message_stop is `done` (held back
/// by the gateway until the usage record is durable), everything else passes unparsed.
[[nodiscard]] chunk_result process_event(std::string_view raw, stream_state& state);

/// The message_stop event the gateway sends last on a passthrough stream.
inline constexpr std::string_view message_stop =
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

} // namespace aignehub::gateway::anthropic
