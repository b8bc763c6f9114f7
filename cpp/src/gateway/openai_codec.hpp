#pragma once

#include "gateway/canonical.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

/// OpenAI's chat completions in the canonical model: the OpenAI front door decodes requests and
/// encodes answers and chunks with it when the provider speaks another wire; the OpenAI wire
/// family encodes requests and decodes answers and chunks with it when the client does.
namespace aignehub::gateway::openai {

// ---- client side (the OpenAI front door, translating) --------------------------------------

/// Decodes a chat completions body (already checked by read_request). Fields the canonical
/// model cannot carry are refused with a bad_field naming them (n > 1, logprobs, top_logprobs,
/// logit_bias, audio, modalities other than ["text"], web_search_options, functions,
/// function_call, non-function tools, unknown fields); pure hints are ignored (store,
/// metadata, service_tier, prediction, stream_options other than include_usage). Assistant
/// messages may carry `thinking_blocks` ([{"type":"thinking","thinking","signature"} or
/// {"type":"redacted_thinking","data"}]), as the answers of this front door give them, so a
/// conversation with thinking keeps its signatures.
[[nodiscard]] std::optional<bad_field> decode_request(std::string_view body,
                                                      canon::chat_request& out);

/// The chat.completion answer for `answer`: one choice, message.content (text joined; null
/// when there is none), reasoning_content, thinking_blocks (when any reasoning part has a
/// signature or is redacted), tool_calls, finish_reason, and usage with
/// prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens and, when
/// there were cache writes, prompt_tokens_details.cache_creation_tokens.
[[nodiscard]] std::string encode_answer(const canon::chat_answer& answer);

/// chat.completion.chunk events (`data: {...}\n\n`) for canonical events: the role in the
/// first chunk, content / reasoning_content / thinking_blocks / tool_calls deltas (a call's
/// id, type and name in its first delta, arguments streamed as they come), the finish_reason
/// chunk; finish() adds the usage chunk (only when `include_usage`) and `data: [DONE]`.
[[nodiscard]] std::unique_ptr<canon::stream_encoder> make_stream_encoder(bool include_usage);

// ---- provider side (the OpenAI wire family, translating) -----------------------------------

/// The chat completions body for `request` with `model`; on a stream,
/// stream_options.include_usage is true. The system prompt is one string; reasoning budgets
/// become efforts (<= 2048 low, <= 16384 medium, more high); text documents become text.
/// Refuses (bad_field) what the family cannot carry: top_k, documents given by URL, images in
/// tool results. Reasoning parts of earlier turns are left out (providers of this wire ignore
/// or refuse them).
[[nodiscard]] std::optional<bad_field> encode_request(const canon::chat_request& request,
                                                      std::string_view model, std::string& out);

/// Reads a chat.completion answer (the first choice; quirks of the family as normalise_chat
/// knows them); false when it is not one.
[[nodiscard]] bool decode_answer(std::string_view body, canon::chat_answer& out);

/// The canonical events of a chat.completion.chunk stream (quirks included: `reasoning`,
/// Groq's x_groq.usage, typed content parts). `{"error":...}` chunks are errors; [DONE] ends.
[[nodiscard]] std::unique_ptr<canon::stream_decoder> make_stream_decoder();

} // namespace aignehub::gateway::openai
