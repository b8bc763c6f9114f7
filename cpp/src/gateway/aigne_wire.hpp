#pragma once

#include "gateway/canonical.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

/// The AIGNE Hub protocol as the npm client @aigne/aigne-hub speaks it (docs/aigne-protocol.md):
/// POST /api/v2/chat with the AIGNE framework's ChatModelInput, answered as a ChatModelOutput or
/// a stream of AgentResponseDelta frames; /api/v2/image and /api/v2/embeddings, relayed through
/// OpenAI's image and embedding requests.
namespace aignehub::gateway::aigne {

/// `model` without the "aignehub/" or "aignehub:" prefix the framework's model strings carry.
[[nodiscard]] std::string without_hub_prefix(std::string model);

/// The model a body names (input.modelOptions.model, else input.model, else model), without
/// the client's "aignehub/" or "aignehub:" prefix; nullopt when it names none.
[[nodiscard]] std::optional<std::string> model_of(const ojson& body);

/// Reads a request: the model and options.streaming into `out`; an image or embedding request
/// is rewritten as OpenAI's (into out.converted, which out.body then views).
[[nodiscard]] std::optional<bad_field> read_request(endpoint which, std::string_view body,
                                                    request_view& out);

/// Decodes a chat request's ChatModelInput into the canonical model.
[[nodiscard]] std::optional<bad_field> decode_request(std::string_view body,
                                                      canon::chat_request& out);

/// The ChatModelOutput for an answer: text (or json, for a JSON answer), thoughts, toolCalls
/// with arguments as objects, model, usage (inputTokens without cache reads and writes,
/// outputTokens, cacheCreationInputTokens, cacheReadInputTokens, aigneHubCredits,
/// modelCallId) and modelWithProvider.
[[nodiscard]] std::string encode_answer(const canon::chat_answer& answer,
                                        const canon::answer_context& ctx);

/// AgentResponseDelta frames: text and thoughts as they come, complete toolCalls (and the JSON
/// answer) once known, and last a frame with model, usage and modelWithProvider.
[[nodiscard]] std::unique_ptr<canon::stream_encoder>
make_stream_encoder(const canon::answer_context& ctx);

/// An OpenAI images or embeddings answer as the AIGNE client reads it, in place.
[[nodiscard]] bool relayed_answer(endpoint which, std::string& body,
                                  const canon::answer_context& ctx);

/// `event: error` with {"message":...}: how the client learns a stream failed.
void append_error_event(std::string& out, std::string_view message);

/// The calling application from x-aigne-hub-client-did (URL-decoded, printable, at most 200
/// bytes).
[[nodiscard]] std::string client_app(std::string_view header);

} // namespace aignehub::gateway::aigne
