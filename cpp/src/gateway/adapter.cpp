#include "gateway/adapter.hpp"

#include "core/log.hpp"
#include "gateway/aigne_wire.hpp"
#include "gateway/anthropic_wire.hpp"
#include "gateway/gemini_wire.hpp"
#include "gateway/json_scan.hpp"
#include "gateway/openai_codec.hpp"
#include "routing/routes.hpp"

namespace aignehub::gateway {

namespace {

// The catalogue's model listing path says where the API lives below the base URL:
// "/models" (most of the OpenAI family), "/v1/models" (Ollama, Anthropic),
// "/v1beta/models" (Gemini).
std::string api_root(const routing::provider_entry& p) {
    const std::string_view listing = p.kind->models_path;
    constexpr std::string_view models = "/models";
    std::string out = p.origin->path;
    out.append(listing.ends_with(models) ? listing.substr(0, listing.size() - models.size())
                                         : std::string_view{});
    return out;
}

bad_field not_served(const routing::provider_entry& p, std::string_view what) {
    return {"model",
            "the provider '" + p.row.name + "' speaks the " + std::string(p.kind->wire) +
                " API, which has no " + std::string(what),
            "unsupported_endpoint"};
}

std::string_view name_of(endpoint which) {
    switch (which) {
    case endpoint::chat:
        return "chat completions";
    case endpoint::embeddings:
        return "embeddings";
    case endpoint::images:
        return "image generation";
    case endpoint::count_tokens:
        return "token counting";
    }
    return "such endpoint";
}

// The client's body with only the model replaced.
std::string with_model(const request_view& request, std::string_view model) {
    std::string out;
    out.reserve(request.body.size() + model.size());
    out.append(request.body.substr(0, request.model_at.first));
    detail::append_json_string(out, model);
    out.append(request.body.substr(request.model_at.first + request.model_at.second));
    return out;
}

void trim_front(std::string& body) {
    const auto first = body.find_first_not_of(" \t\r\n");
    body.erase(0, first == std::string::npos ? body.size() : first);
}

// The OpenAI wire family: openai, deepseek, xai, openrouter, mistral, groq, ollama's /v1,
// doubao, any OpenAI-compatible server. OpenAI clients are relayed bytes, quirks normalised.
class openai_family final : public wire_adapter {
public:
    [[nodiscard]] std::string_view wire() const noexcept override { return "openai"; }

    [[nodiscard]] std::optional<bad_field> encode(endpoint which, const request_view& request,
                                                  const routing::provider_entry& p,
                                                  std::string_view model,
                                                  upstream_request& out) const override {
        out.path = api_root(p);
        switch (which) {
        case endpoint::chat:
            out.path.append("/chat/completions");
            break;
        case endpoint::embeddings:
            out.path.append("/embeddings");
            break;
        case endpoint::images:
            out.path.append("/images/generations");
            break;
        case endpoint::count_tokens:
            return not_served(p, name_of(which));
        }
        out.body = upstream_body(request, model);
        return std::nullopt;
    }

    [[nodiscard]] bool decode_answer(endpoint which, std::string_view /*model*/, std::string& body,
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
        trim_front(body);
        return true;
    }

    [[nodiscard]] chunk_result decode_event(std::string_view raw,
                                            stream_state& state) const override {
        return process_chat_event(raw, state);
    }

    [[nodiscard]] std::optional<bad_field> encode_chat(endpoint which,
                                                       const canon::chat_request& request,
                                                       const routing::provider_entry& p,
                                                       std::string_view model,
                                                       upstream_request& out) const override {
        if (which != endpoint::chat) {
            return not_served(p, name_of(which));
        }
        out.path = api_root(p) + "/chat/completions";
        return openai::encode_request(request, model, out.body);
    }

    [[nodiscard]] bool decode_chat(std::string_view body, canon::chat_answer& out) const override {
        return openai::decode_answer(body, out);
    }

    [[nodiscard]] bool decode_count(std::string_view /*body*/,
                                    std::int64_t& /*tokens*/) const override {
        return false;
    }

    [[nodiscard]] std::unique_ptr<canon::stream_decoder> chat_stream() const override {
        return openai::make_stream_decoder();
    }

    [[nodiscard]] upstream_error decode_error(unsigned status,
                                              std::string_view body) const override {
        return read_error(status, body);
    }
};

// Anthropic's Messages API. Anthropic clients are relayed bytes with only the model replaced.
class anthropic_wire final : public wire_adapter {
public:
    [[nodiscard]] std::string_view wire() const noexcept override { return "anthropic"; }

    [[nodiscard]] std::optional<bad_field> encode(endpoint which, const request_view& request,
                                                  const routing::provider_entry& p,
                                                  std::string_view model,
                                                  upstream_request& out) const override {
        if (which != endpoint::chat && which != endpoint::count_tokens) {
            return not_served(p, name_of(which));
        }
        out.path = path(p, which);
        out.body = with_model(request, model);
        return std::nullopt;
    }

    [[nodiscard]] bool decode_answer(endpoint which, std::string_view /*model*/, std::string& body,
                                     answer_facts& facts) const override {
        if (which == endpoint::chat && !anthropic::read_answer(body, facts)) {
            return false;
        }
        if (which == endpoint::count_tokens && !scan::valid(body)) {
            return false;
        }
        trim_front(body);
        return true;
    }

    [[nodiscard]] chunk_result decode_event(std::string_view raw,
                                            stream_state& state) const override {
        return anthropic::process_event(raw, state);
    }

    [[nodiscard]] std::optional<bad_field> encode_chat(endpoint which,
                                                       const canon::chat_request& request,
                                                       const routing::provider_entry& p,
                                                       std::string_view model,
                                                       upstream_request& out) const override {
        out.path = path(p, which);
        if (which == endpoint::count_tokens) {
            return anthropic::encode_count_request(request, model, out.body);
        }
        return anthropic::encode_request(request, model, out.body);
    }

    [[nodiscard]] bool decode_chat(std::string_view body, canon::chat_answer& out) const override {
        return anthropic::decode_answer(body, out);
    }

    [[nodiscard]] bool decode_count(std::string_view body, std::int64_t& tokens) const override {
        const ojson answer = ojson::parse(body, nullptr, false);
        if (!answer.is_object() || !answer.contains("input_tokens") ||
            !answer["input_tokens"].is_number_integer()) {
            return false;
        }
        tokens = answer["input_tokens"].get<std::int64_t>();
        return true;
    }

    [[nodiscard]] std::unique_ptr<canon::stream_decoder> chat_stream() const override {
        return anthropic::make_stream_decoder();
    }

    [[nodiscard]] upstream_error decode_error(unsigned status,
                                              std::string_view body) const override {
        return anthropic::read_error(status, body);
    }

private:
    static std::string path(const routing::provider_entry& p, endpoint which) {
        return api_root(p) +
               (which == endpoint::count_tokens ? "/messages/count_tokens" : "/messages");
    }
};

// Google's Gemini API: chat through the canonical model; OpenAI embedding requests relayed
// through embedContent / batchEmbedContents.
class gemini_wire final : public wire_adapter {
public:
    [[nodiscard]] std::string_view wire() const noexcept override { return "gemini"; }

    [[nodiscard]] std::optional<bad_field> encode(endpoint which, const request_view& request,
                                                  const routing::provider_entry& p,
                                                  std::string_view model,
                                                  upstream_request& out) const override {
        if (which != endpoint::embeddings) {
            return not_served(p, name_of(which));
        }
        bool batch = false;
        if (auto bad = gemini::encode_embeddings(request.body, model, batch, out.body)) {
            return bad;
        }
        out.path = method(p, model, batch ? "batchEmbedContents" : "embedContent");
        return std::nullopt;
    }

    [[nodiscard]] bool decode_answer(endpoint which, std::string_view model, std::string& body,
                                     answer_facts& facts) const override {
        return which == endpoint::embeddings && gemini::decode_embeddings(body, model, facts);
    }

    [[nodiscard]] chunk_result decode_event(std::string_view /*raw*/,
                                            stream_state& /*state*/) const override {
        return {}; // no client speaks Gemini's wire: its streams are always translated
    }

    [[nodiscard]] std::optional<bad_field> encode_chat(endpoint which,
                                                       const canon::chat_request& request,
                                                       const routing::provider_entry& p,
                                                       std::string_view model,
                                                       upstream_request& out) const override {
        if (which == endpoint::count_tokens) {
            out.path = method(p, model, "countTokens");
            return gemini::encode_count_request(request, model, out.body);
        }
        out.path =
            method(p, model, request.stream ? "streamGenerateContent?alt=sse" : "generateContent");
        return gemini::encode_request(request, out.body);
    }

    [[nodiscard]] bool decode_chat(std::string_view body, canon::chat_answer& out) const override {
        return gemini::decode_answer(body, out);
    }

    [[nodiscard]] bool decode_count(std::string_view body, std::int64_t& tokens) const override {
        return gemini::decode_count(body, tokens);
    }

    [[nodiscard]] std::unique_ptr<canon::stream_decoder> chat_stream() const override {
        return gemini::make_stream_decoder();
    }

    // Without alt=sse (a proxy may drop it), the stream is one JSON array.
    [[nodiscard]] bool is_stream(std::string_view content_type) const override {
        return content_type.starts_with("text/event-stream") ||
               content_type.starts_with("application/json");
    }

    [[nodiscard]] framing framing_of(std::string_view content_type) const override {
        return content_type.starts_with("text/event-stream") ? framing::sse : framing::json_array;
    }

    [[nodiscard]] upstream_error decode_error(unsigned status,
                                              std::string_view body) const override {
        return gemini::read_error(status, body);
    }

private:
    static std::string method(const routing::provider_entry& p, std::string_view model,
                              std::string_view name) {
        std::string out = p.origin->path;
        out.append(p.kind->models_path).append("/");
        // Model ids are path segments: anything outside the unreserved set is escaped.
        for (const char c : model) {
            const auto u = static_cast<unsigned char>(c);
            if (std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
                out.push_back(c);
            } else {
                constexpr std::string_view digits = "0123456789ABCDEF";
                out.push_back('%');
                out.push_back(digits[u >> 4U]);
                out.push_back(digits[u & 15U]);
            }
        }
        out.append(":").append(name);
        return out;
    }
};

class openai_client final : public client_protocol {
public:
    [[nodiscard]] std::string_view wire() const noexcept override { return "openai"; }

    [[nodiscard]] std::optional<bad_field> read(endpoint which, std::string_view body,
                                                request_view& out) const override {
        return read_request(which, body, out);
    }

    [[nodiscard]] std::optional<bad_field> decode(endpoint /*which*/, std::string_view body,
                                                  canon::chat_request& out) const override {
        return openai::decode_request(body, out);
    }

    [[nodiscard]] std::string encode_answer(const canon::chat_answer& answer,
                                            const canon::answer_context& /*ctx*/) const override {
        return openai::encode_answer(answer);
    }

    [[nodiscard]] std::unique_ptr<canon::stream_encoder>
    stream_encoder(const canon::answer_context& ctx) const override {
        return openai::make_stream_encoder(ctx.include_usage);
    }

    [[nodiscard]] std::string_view stream_end() const noexcept override {
        return "data: [DONE]\n\n";
    }

    void append_error_event(std::string& out, unsigned /*status*/, std::string_view message,
                            std::string_view type, std::string_view code) const override {
        gateway::append_error_event(out, message, type, code);
    }
};

class anthropic_client final : public client_protocol {
public:
    [[nodiscard]] std::string_view wire() const noexcept override { return "anthropic"; }

    [[nodiscard]] std::optional<bad_field> read(endpoint /*which*/, std::string_view body,
                                                request_view& out) const override {
        return anthropic::read_passthrough(body, out);
    }

    [[nodiscard]] std::optional<bad_field> decode(endpoint which, std::string_view body,
                                                  canon::chat_request& out) const override {
        if (which != endpoint::count_tokens) {
            return anthropic::decode_request(body, out);
        }
        // count_tokens takes a messages request without max_tokens.
        ojson request = ojson::parse(body, nullptr, false);
        if (request.is_object() && !request.contains("max_tokens")) {
            request["max_tokens"] = 1;
        }
        return anthropic::decode_request(dump(request), out);
    }

    [[nodiscard]] std::string encode_answer(const canon::chat_answer& answer,
                                            const canon::answer_context& /*ctx*/) const override {
        return anthropic::encode_answer(answer);
    }

    [[nodiscard]] std::unique_ptr<canon::stream_encoder>
    stream_encoder(const canon::answer_context& /*ctx*/) const override {
        return anthropic::make_stream_encoder();
    }

    // Beta flags turn features on (Claude Code sends several): the provider must see them.
    [[nodiscard]] std::string relayed_headers(const http::request& req) const override {
        const std::string_view beta = req["anthropic-beta"];
        if (beta.empty()) {
            return {};
        }
        return "anthropic-beta: " + std::string(beta) + "\r\n";
    }

    [[nodiscard]] std::string_view stream_end() const noexcept override {
        return anthropic::message_stop;
    }

    void append_error_event(std::string& out, unsigned status, std::string_view message,
                            std::string_view /*type*/, std::string_view /*code*/) const override {
        anthropic::append_error_event(out, status, message);
    }
};

// The AIGNE Hub protocol: no provider speaks it, so chats are always translated; image and
// embedding requests are rewritten into OpenAI's on the way in and back out.
class aigne_client final : public client_protocol {
public:
    [[nodiscard]] std::string_view wire() const noexcept override { return "aigne"; }

    [[nodiscard]] std::optional<bad_field> read(endpoint which, std::string_view body,
                                                request_view& out) const override {
        return aigne::read_request(which, body, out);
    }

    [[nodiscard]] std::optional<bad_field> decode(endpoint /*which*/, std::string_view body,
                                                  canon::chat_request& out) const override {
        return aigne::decode_request(body, out);
    }

    [[nodiscard]] std::string encode_answer(const canon::chat_answer& answer,
                                            const canon::answer_context& ctx) const override {
        return aigne::encode_answer(answer, ctx);
    }

    [[nodiscard]] bool relayed_answer(endpoint which, std::string& body,
                                      const canon::answer_context& ctx) const override {
        return aigne::relayed_answer(which, body, ctx);
    }

    [[nodiscard]] std::unique_ptr<canon::stream_encoder>
    stream_encoder(const canon::answer_context& ctx) const override {
        return aigne::make_stream_encoder(ctx);
    }

    [[nodiscard]] std::string app(const http::request& req) const override {
        return aigne::client_app(req["x-aigne-hub-client-did"]);
    }

    [[nodiscard]] std::string_view stream_end() const noexcept override { return {}; }

    void append_error_event(std::string& out, unsigned /*status*/, std::string_view message,
                            std::string_view /*type*/, std::string_view /*code*/) const override {
        aigne::append_error_event(out, message);
    }
};

} // namespace

const wire_adapter* adapter_for(std::string_view wire) noexcept {
    static const openai_family openai;
    static const anthropic_wire anthropic;
    static const gemini_wire gemini;
    if (wire == "openai") {
        return &openai;
    }
    if (wire == "anthropic") {
        return &anthropic;
    }
    if (wire == "gemini") {
        return &gemini;
    }
    return nullptr;
}

std::vector<target> resolve(const routing::route_snapshot& snapshot, const std::string& name) {
    std::vector<target> out;
    if (const auto slash = name.find('/'); slash != std::string::npos && slash + 1 < name.size()) {
        if (const auto it = snapshot.by_name.find(name.substr(0, slash));
            it != snapshot.by_name.end()) {
            if (const wire_adapter* adapter = adapter_for(it->second->kind->wire)) {
                out.push_back({it->second, name.substr(slash + 1), adapter});
                return out;
            }
        }
    }
    if (const auto it = snapshot.by_model.find(name); it != snapshot.by_model.end()) {
        for (const auto& provider : it->second) {
            if (const wire_adapter* adapter = adapter_for(provider->kind->wire)) {
                out.push_back({provider, name, adapter});
            }
        }
    }
    return out;
}

const client_protocol& openai_protocol() noexcept {
    static const openai_client protocol;
    return protocol;
}

const client_protocol& anthropic_protocol() noexcept {
    static const anthropic_client protocol;
    return protocol;
}

const client_protocol& aigne_protocol() noexcept {
    static const aigne_client protocol;
    return protocol;
}

} // namespace aignehub::gateway
