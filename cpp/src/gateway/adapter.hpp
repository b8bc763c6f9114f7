#pragma once

#include "gateway/openai_wire.hpp"

#include <string>
#include <string_view>

namespace aignehub::routing {
struct provider_entry;
}

namespace aignehub::gateway {

/// How the gateway talks to the providers of one wire format. A front door decodes the
/// client's request into a request_view; the adapter of the chosen provider's wire encodes it,
/// and decodes the provider's answer, stream events and errors back into what the client
/// speaks. The OpenAI family relays bytes (the same wire on both sides, decision 1 of
/// ARCHITECTURE.md); adapters of other wires (Anthropic, Gemini) translate through the
/// canonical model. The exchange in gateway.cpp (routing, attempts, failover, metering) knows
/// no wire: a new provider wire is one more adapter.
class wire_adapter {
public:
    wire_adapter() = default;
    wire_adapter(const wire_adapter&) = delete;
    wire_adapter& operator=(const wire_adapter&) = delete;
    wire_adapter(wire_adapter&&) = delete;
    wire_adapter& operator=(wire_adapter&&) = delete;
    virtual ~wire_adapter() = default;

    /// The request target for `which` at `provider` (base URL path included).
    [[nodiscard]] virtual std::string path(const routing::provider_entry& provider, endpoint which,
                                           std::string_view model, bool stream) const = 0;
    /// The upstream body for `request`, with `model` as the provider's model id.
    [[nodiscard]] virtual std::string encode(endpoint which, const request_view& request,
                                             std::string_view model) const = 0;
    /// Turns a whole answer into the client's body, in place, and reads what the usage record
    /// needs; false when it is not a valid answer.
    [[nodiscard]] virtual bool decode_answer(endpoint which, std::string& body,
                                             answer_facts& facts) const = 0;
    /// True when a successful answer with this content type is a stream to relay.
    [[nodiscard]] virtual bool is_stream(std::string_view content_type) const = 0;
    /// True when the stream's events are NDJSON lines rather than server-sent events.
    [[nodiscard]] virtual bool ndjson() const noexcept { return false; }
    /// What to relay for one stream event.
    [[nodiscard]] virtual chunk_result decode_event(std::string_view raw,
                                                    stream_state& state) const = 0;
    /// A provider's error answer in OpenAI's terms.
    [[nodiscard]] virtual upstream_error decode_error(unsigned status,
                                                      std::string_view body) const = 0;
};

/// The adapter for a catalogue wire name ("openai"); null when that wire is not served yet.
[[nodiscard]] const wire_adapter* adapter_for(std::string_view wire) noexcept;

} // namespace aignehub::gateway
