#include "providers/catalogue.hpp"

#include <algorithm>
#include <array>

namespace aignehub::providers {

namespace {

// The check paths are listings that need a valid key; OpenRouter's model list is public, so its
// key endpoint proves the key instead.
constexpr std::array<provider_kind, 11> kinds{{
    {"openai", "OpenAI", "openai", "https://api.openai.com/v1", auth_style::bearer, true, false,
     "/models", "/models", "", "", "OPENAI_API_KEY", "OPENAI_BASE_URL", ""},
    {"anthropic", "Anthropic", "anthropic", "https://api.anthropic.com", auth_style::x_api_key,
     true, false, "/v1/models", "/v1/models", "anthropic-version", "2023-06-01",
     "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", ""},
    {"google", "Google Gemini", "gemini", "https://generativelanguage.googleapis.com",
     auth_style::x_goog_api_key, true, false, "/v1beta/models", "/v1beta/models", "", "",
     "GEMINI_API_KEY", "GEMINI_BASE_URL", "API_KEY_INVALID"},
    {"deepseek", "DeepSeek", "openai", "https://api.deepseek.com", auth_style::bearer, true, false,
     "/models", "/models", "", "", "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", ""},
    {"xai", "xAI", "openai", "https://api.x.ai/v1", auth_style::bearer, true, false, "/models",
     "/models", "", "", "XAI_API_KEY", "XAI_BASE_URL", ""},
    {"openrouter", "OpenRouter", "openai", "https://openrouter.ai/api/v1", auth_style::bearer, true,
     false, "/models", "/key", "", "", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", ""},
    {"mistral", "Mistral", "openai", "https://api.mistral.ai/v1", auth_style::bearer, true, false,
     "/models", "/models", "", "", "MISTRAL_API_KEY", "MISTRAL_BASE_URL", ""},
    {"groq", "Groq", "openai", "https://api.groq.com/openai/v1", auth_style::bearer, true, false,
     "/models", "/models", "", "", "GROQ_API_KEY", "GROQ_BASE_URL", ""},
    {"ollama", "Ollama", "openai", "http://127.0.0.1:11434", auth_style::bearer, false, true,
     "/v1/models", "/api/tags", "", "", "OLLAMA_API_KEY", "OLLAMA_BASE_URL", ""},
    {"doubao", "Doubao (Volcengine Ark)", "openai", "https://ark.cn-beijing.volces.com/api/v3",
     auth_style::bearer, true, false, "/models", "/models", "", "", "DOUBAO_API_KEY",
     "DOUBAO_BASE_URL", ""},
    {"openai-compatible", "OpenAI-compatible", "openai", "", auth_style::bearer, false, false,
     "/models", "/models", "", "", "", "", ""},
}};

} // namespace

std::span<const provider_kind> catalogue() noexcept {
    return kinds;
}

const provider_kind* find_kind(std::string_view kind) noexcept {
    const auto* found = std::find_if(kinds.begin(), kinds.end(),
                                     [kind](const provider_kind& k) { return k.kind == kind; });
    return found == kinds.end() ? nullptr : &*found;
}

auth_header auth_header_of(auth_style auth) noexcept {
    switch (auth) {
    case auth_style::x_api_key:
        return {"x-api-key", ""};
    case auth_style::x_goog_api_key:
        return {"x-goog-api-key", ""};
    case auth_style::bearer:
        break;
    }
    return {"Authorization", "Bearer "};
}

std::string_view auth_name(auth_style auth) noexcept {
    switch (auth) {
    case auth_style::x_api_key:
        return "x-api-key";
    case auth_style::x_goog_api_key:
        return "x-goog-api-key";
    case auth_style::bearer:
        break;
    }
    return "bearer";
}

} // namespace aignehub::providers
