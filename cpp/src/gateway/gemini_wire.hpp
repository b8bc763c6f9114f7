#pragma once

#include "gateway/canonical.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

/// Google's Gemini API (generateContent, streamGenerateContent, countTokens, embedContent,
/// batchEmbedContents) as a provider wire: requests encoded from the canonical model (and from
/// OpenAI embedding requests), answers and streams decoded into it.
namespace aignehub::gateway::gemini {

/// The generateContent body for `request` (contents, systemInstruction, tools with
/// functionDeclarations, toolConfig, generationConfig with thinkingConfig, responseMimeType and
/// responseJsonSchema). A canonical feature Gemini cannot honour is refused (bad_field::param
/// names the client's field); pure hints are left out (see docs/translation.md).
[[nodiscard]] std::optional<bad_field> encode_request(const canon::chat_request& request,
                                                      std::string& out);

/// The countTokens body for `request`: {"generateContentRequest":{"model":"models/<model>",
/// ...the generateContent body...}}.
[[nodiscard]] std::optional<bad_field>
encode_count_request(const canon::chat_request& request, std::string_view model, std::string& out);

/// Reads countTokens' answer ({"totalTokens":N}); false when it is not one.
[[nodiscard]] bool decode_count(std::string_view body, std::int64_t& tokens);

/// Reads a generateContent answer (the first candidate; promptFeedback.blockReason with no
/// candidate is a content_filter finish with no parts); false when it is not one.
[[nodiscard]] bool decode_answer(std::string_view body, canon::chat_answer& out);

/// The canonical events of a streamGenerateContent stream. Each event handed to feed() is one
/// GenerateContentResponse: an SSE event (`data: {...}`, from ?alt=sse) or one element of the
/// plain JSON-array stream (the object's text, as event_splitter's json_array mode cuts it).
[[nodiscard]] std::unique_ptr<canon::stream_decoder> make_stream_decoder();

/// A provider error answer ({"error":{"code","message","status","details"}}) in OpenAI's terms;
/// API_KEY_INVALID (a 400 from Gemini) reads as status 401, PERMISSION_DENIED as 403,
/// RESOURCE_EXHAUSTED as 429.
[[nodiscard]] upstream_error read_error(unsigned status, std::string_view body);

/// Tool-call ids: Gemini's function calls carry no id but a thoughtSignature that must come
/// back with the call in the next turn. The id made for a call carries the signature
/// (base64url), so any client that echoes ids keeps multi-turn tool use with thinking working;
/// ids are [A-Za-z0-9_-] only.
[[nodiscard]] std::string make_call_id(int index, std::string_view signature);
/// The thoughtSignature an id made by make_call_id carries; empty when none.
[[nodiscard]] std::string signature_of_call_id(std::string_view id);

/// An OpenAI embeddings request (already checked by read_request) as embedContent (one string
/// input: `batch` false) or batchEmbedContents (an array of strings); input given as tokens is
/// refused. `dimensions` maps to outputDimensionality.
[[nodiscard]] std::optional<bad_field> encode_embeddings(std::string_view openai_body,
                                                         std::string_view model, bool& batch,
                                                         std::string& out);

/// embedContent's or batchEmbedContents' answer as OpenAI's embeddings list, in place; fills
/// facts (model, items); false when it is not one.
[[nodiscard]] bool decode_embeddings(std::string& body, std::string_view model,
                                     answer_facts& facts);

} // namespace aignehub::gateway::gemini
