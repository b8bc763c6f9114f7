#pragma once

#include <span>
#include <string_view>

namespace aignehub::providers {

/// How a provider expects its key.
enum class auth_style {
    bearer,         ///< Authorization: Bearer <key>
    x_api_key,      ///< x-api-key: <key> (Anthropic)
    x_goog_api_key, ///< x-goog-api-key: <key> (Gemini)
};

/// What aignehub knows about one kind of provider. One entry per kind; a new OpenAI-compatible
/// provider is one more entry here.
struct provider_kind {
    std::string_view kind;
    std::string_view display_name;
    /// The wire format its adapter speaks: "openai", "anthropic", "gemini".
    std::string_view wire;
    /// Empty when the caller must give a base URL (openai-compatible).
    std::string_view default_base_url;
    auth_style auth;
    /// False when the provider answers without a key (a local Ollama).
    bool key_required;
    /// True when the default base URL is on this machine (Ollama).
    bool local_by_default;
    /// The models listing, relative to the base URL.
    std::string_view models_path;
    /// The cheapest GET that fails without a valid key, relative to the base URL.
    std::string_view check_path;
    /// Extra header every request carries (Anthropic's API version), or empty.
    std::string_view extra_header_name;
    std::string_view extra_header_value;
    /// Environment variables read at start for a zero-configuration provider.
    std::string_view env_key;
    std::string_view env_base_url;
    /// Some providers answer a bad key with 400 and this reason instead of 401 (Gemini).
    std::string_view invalid_key_marker;
};

[[nodiscard]] std::span<const provider_kind> catalogue() noexcept;
[[nodiscard]] const provider_kind* find_kind(std::string_view kind) noexcept;
[[nodiscard]] std::string_view auth_name(auth_style auth) noexcept;

/// The request header that carries a key in `auth` style: its name, and what goes before the
/// key in its value ("Bearer " or nothing).
struct auth_header {
    std::string_view name;
    std::string_view prefix;
};
[[nodiscard]] auth_header auth_header_of(auth_style auth) noexcept;

} // namespace aignehub::providers
