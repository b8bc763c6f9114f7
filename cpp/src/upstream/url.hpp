#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace aignehub::upstream {

/// A provider base URL, taken apart. Only what an upstream base URL may hold: scheme, host,
/// port and path; never user information, a query or a fragment.
struct url {
    std::string scheme; ///< "http" or "https"
    std::string host;   ///< lower-cased; an IPv6 literal without its brackets
    std::uint16_t port = 0;
    std::string path; ///< "" or "/..." without a trailing slash
    bool ipv6_literal = false;

    /// scheme://host[:port]path, with the port only when it is not the scheme's default.
    [[nodiscard]] std::string text() const;
    /// The Host header value.
    [[nodiscard]] std::string host_header() const;
};

/// Parses and checks a base URL. On failure returns nullopt and sets `why` to a reason that can
/// be shown to the caller (it never repeats the URL, which may hold a secret).
[[nodiscard]] std::optional<url> parse_base_url(std::string_view text, std::string& why);

/// True when `text` holds a character that would break an HTTP header: CR, LF or NUL.
[[nodiscard]] bool breaks_header(std::string_view text) noexcept;

} // namespace aignehub::upstream
