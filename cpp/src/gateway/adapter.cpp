#include "gateway/adapter.hpp"

#include "routing/routes.hpp"

namespace aignehub::gateway {

namespace {

// The OpenAI wire family: openai, deepseek, xai, openrouter, mistral, groq, ollama's /v1,
// doubao, any OpenAI-compatible server. Bytes pass through; quirks are normalised.
class openai_family final : public wire_adapter {
public:
    // The catalogue's model listing path says where the API lives below the base URL:
    // "/models" (most) or "/v1/models" (Ollama, whose base URL is the server's root).
    [[nodiscard]] std::string path(const routing::provider_entry& p, endpoint which,
                                   std::string_view /*model*/, bool /*stream*/) const override {
        const std::string_view listing = p.kind->models_path;
        constexpr std::string_view models = "/models";
        const std::string_view prefix =
            listing.ends_with(models) ? listing.substr(0, listing.size() - models.size()) : "";
        std::string out = p.origin->path;
        out.append(prefix);
        switch (which) {
        case endpoint::chat:
            out.append("/chat/completions");
            break;
        case endpoint::embeddings:
            out.append("/embeddings");
            break;
        case endpoint::images:
            out.append("/images/generations");
            break;
        }
        return out;
    }

    [[nodiscard]] std::string encode(endpoint /*which*/, const request_view& request,
                                     std::string_view model) const override {
        return upstream_body(request, model);
    }

    [[nodiscard]] bool decode_answer(endpoint which, std::string& body,
                                     answer_facts& facts) const override {
        if (!read_answer(body, facts)) {
            return false;
        }
        if (facts.quirks && which == endpoint::chat) {
            // A provider quirk to normalise: the one case that builds a DOM.
            ojson answer = ojson::parse(body, nullptr, false);
            normalise_chat(answer);
            body = dump(answer);
            answer_facts normalised; // Groq's usage is in "usage" now
            if (read_answer(body, normalised)) {
                facts.usage = normalised.usage;
            }
            return true;
        }
        const auto first = body.find_first_not_of(" \t\r\n");
        body.erase(0, first == std::string::npos ? body.size() : first);
        return true;
    }

    [[nodiscard]] bool is_stream(std::string_view content_type) const override {
        return content_type.starts_with("text/event-stream");
    }

    [[nodiscard]] chunk_result decode_event(std::string_view raw,
                                            stream_state& state) const override {
        return process_chat_event(raw, state);
    }

    [[nodiscard]] upstream_error decode_error(unsigned status,
                                              std::string_view body) const override {
        return read_error(status, body);
    }
};

} // namespace

const wire_adapter* adapter_for(std::string_view wire) noexcept {
    static const openai_family openai;
    if (wire == "openai") {
        return &openai;
    }
    return nullptr;
}

} // namespace aignehub::gateway
