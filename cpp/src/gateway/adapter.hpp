#pragma once

#include "gateway/canonical.hpp"
#include "gateway/openai_wire.hpp"
#include "gateway/sse.hpp"
#include "http/types.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aignehub::routing {
struct provider_entry;
struct route_snapshot;
} // namespace aignehub::routing

namespace aignehub::gateway {

/// What to send a provider: the request target (base URL path included) and the body.
struct upstream_request {
    std::string path;
    std::string body;
};

/// How the gateway talks to the providers of one wire format. Two ways through it:
/// - relayed: the client speaks what the adapter serves without the canonical model (the same
///   wire: OpenAI clients to the OpenAI family, Anthropic clients to Anthropic; and OpenAI
///   embedding requests to Gemini): encode(), decode_answer(), decode_event() work on bytes,
///   rewriting only what they must;
/// - translated: the client's chat request was decoded into the canonical model (the client
///   speaks another wire): encode_chat(), decode_chat() and chat_stream() go through it.
/// The exchange in gateway.cpp (routing, attempts, failover, metering) knows no wire: a new
/// provider wire is one more adapter.
class wire_adapter {
public:
    wire_adapter() = default;
    wire_adapter(const wire_adapter&) = delete;
    wire_adapter& operator=(const wire_adapter&) = delete;
    wire_adapter(wire_adapter&&) = delete;
    wire_adapter& operator=(wire_adapter&&) = delete;
    virtual ~wire_adapter() = default;

    /// The wire's name in the catalogue ("openai", "anthropic", "gemini").
    [[nodiscard]] virtual std::string_view wire() const noexcept = 0;

    /// The relayed request for `which` with `model` as the provider's model id; a bad_field
    /// when this provider cannot serve it.
    [[nodiscard]] virtual std::optional<bad_field>
    encode(endpoint which, const request_view& request, const routing::provider_entry& provider,
           std::string_view model, upstream_request& out) const = 0;
    /// Turns a whole relayed answer into the client's body, in place, and reads what the usage
    /// record needs; false when it is not a valid answer.
    [[nodiscard]] virtual bool decode_answer(endpoint which, std::string_view model,
                                             std::string& body, answer_facts& facts) const = 0;
    /// What to relay for one event of a relayed stream.
    [[nodiscard]] virtual chunk_result decode_event(std::string_view raw,
                                                    stream_state& state) const = 0;

    /// The request for a canonical chat request (endpoint::chat or endpoint::count_tokens).
    [[nodiscard]] virtual std::optional<bad_field>
    encode_chat(endpoint which, const canon::chat_request& request,
                const routing::provider_entry& provider, std::string_view model,
                upstream_request& out) const = 0;
    /// Reads a whole chat answer into the canonical model; false when it is not one.
    [[nodiscard]] virtual bool decode_chat(std::string_view body,
                                           canon::chat_answer& out) const = 0;
    /// Reads a count_tokens answer; false when it is not one.
    [[nodiscard]] virtual bool decode_count(std::string_view body, std::int64_t& tokens) const = 0;
    /// A decoder for one chat stream of this wire.
    [[nodiscard]] virtual std::unique_ptr<canon::stream_decoder> chat_stream() const = 0;

    /// True when a successful answer with this content type is a stream to relay (asked only
    /// of requests that asked for a stream); server-sent events unless the wire says otherwise.
    [[nodiscard]] virtual bool is_stream(std::string_view content_type) const {
        return content_type.starts_with("text/event-stream");
    }
    /// How a stream with this content type frames its events.
    [[nodiscard]] virtual framing framing_of(std::string_view /*content_type*/) const {
        return framing::sse;
    }
    /// A provider's error answer in OpenAI's terms.
    [[nodiscard]] virtual upstream_error decode_error(unsigned status,
                                                      std::string_view body) const = 0;
};

/// The adapter for a catalogue wire name ("openai", "anthropic", "gemini"); null for a wire
/// that is not served.
[[nodiscard]] const wire_adapter* adapter_for(std::string_view wire) noexcept;

/// One way to reach a model: a provider, the model id it knows, and the adapter of its wire.
struct target {
    std::shared_ptr<const routing::provider_entry> provider;
    std::string model;
    const wire_adapter* adapter = nullptr;
};

/// Where a model name (aliases already applied) leads: "provider/model" names one provider;
/// anything else is a bare name looked up in the models the providers listed, in their order.
[[nodiscard]] std::vector<target> resolve(const routing::route_snapshot& snapshot,
                                          const std::string& name);

/// A client protocol: how the front door reads the client's requests, and writes answers,
/// stream events and errors the way its SDKs expect.
class client_protocol {
public:
    client_protocol() = default;
    client_protocol(const client_protocol&) = delete;
    client_protocol& operator=(const client_protocol&) = delete;
    client_protocol(client_protocol&&) = delete;
    client_protocol& operator=(client_protocol&&) = delete;
    virtual ~client_protocol() = default;

    /// The wire it speaks: a provider of the same wire is relayed bytes.
    [[nodiscard]] virtual std::string_view wire() const noexcept = 0;
    /// Checks a request without building a DOM and finds what routing and relaying need.
    [[nodiscard]] virtual std::optional<bad_field> read(endpoint which, std::string_view body,
                                                        request_view& out) const = 0;
    /// Decodes a chat request (or a count_tokens request) into the canonical model.
    [[nodiscard]] virtual std::optional<bad_field> decode(endpoint which, std::string_view body,
                                                          canon::chat_request& out) const = 0;
    /// The client's body for a canonical chat answer.
    [[nodiscard]] virtual std::string encode_answer(const canon::chat_answer& answer,
                                                    const canon::answer_context& ctx) const = 0;
    /// Rewrites a relayed answer (in OpenAI's terms for embeddings and images) into the
    /// client's, in place; false when it cannot be read.
    [[nodiscard]] virtual bool relayed_answer(endpoint /*which*/, std::string& /*body*/,
                                              const canon::answer_context& /*ctx*/) const {
        return true;
    }
    /// The client's body for a count of input tokens. Only Anthropic's protocol has a count
    /// route (/v1/messages/count_tokens), so its shape is the one there is.
    [[nodiscard]] virtual std::string encode_count(std::int64_t tokens) const {
        return R"({"input_tokens":)" + std::to_string(tokens) + "}";
    }
    /// An encoder for one chat stream to this client.
    [[nodiscard]] virtual std::unique_ptr<canon::stream_encoder>
    stream_encoder(const canon::answer_context& ctx) const = 0;
    /// The calling application the request names, for a key that has no label of its own.
    [[nodiscard]] virtual std::string app(const http::request& /*req*/) const { return {}; }
    /// Request headers of the client's that a provider of the same wire gets too (complete
    /// "name: value\r\n" lines; Anthropic's beta flags).
    [[nodiscard]] virtual std::string relayed_headers(const http::request& /*req*/) const {
        return {};
    }
    /// The bytes that end a relayed stream, held back until the usage record is durable.
    [[nodiscard]] virtual std::string_view stream_end() const noexcept = 0;
    /// Appends the protocol's error event, which ends a stream that has begun.
    virtual void append_error_event(std::string& out, unsigned status, std::string_view message,
                                    std::string_view type, std::string_view code) const = 0;
};

/// OpenAI's API (/v1/chat/completions, /v1/embeddings, /v1/images/generations).
[[nodiscard]] const client_protocol& openai_protocol() noexcept;
/// Anthropic's Messages API (/v1/messages, /v1/messages/count_tokens).
[[nodiscard]] const client_protocol& anthropic_protocol() noexcept;
/// The AIGNE Hub protocol (/api/v2/chat, /api/v2/image, /api/v2/embeddings).
[[nodiscard]] const client_protocol& aigne_protocol() noexcept;

} // namespace aignehub::gateway
