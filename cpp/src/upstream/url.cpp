#include "upstream/url.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace aignehub::upstream {

namespace {

constexpr std::size_t max_url_length = 2048;

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

bool valid_reg_name(std::string_view host) {
    if (host.empty() || host.size() > 253) {
        return false;
    }
    return std::all_of(host.begin(), host.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
    });
}

bool valid_ipv6_literal(std::string_view host) {
    return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
        return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
    });
}

} // namespace

bool breaks_header(std::string_view text) noexcept {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::string url::text() const {
    std::string out = scheme + "://" + host_header();
    out.append(path);
    return out;
}

std::string url::host_header() const {
    std::string out = ipv6_literal ? "[" + host + "]" : host;
    const bool default_port =
        (scheme == "https" && port == 443) || (scheme == "http" && port == 80);
    if (!default_port) {
        out.push_back(':');
        out.append(std::to_string(port));
    }
    return out;
}

std::optional<url> parse_base_url(std::string_view text, std::string& why) {
    if (text.empty()) {
        why = "must not be empty";
        return std::nullopt;
    }
    if (text.size() > max_url_length) {
        why = "is longer than 2048 characters";
        return std::nullopt;
    }
    if (std::any_of(text.begin(), text.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u < 0x21 || u == 0x7f;
        })) {
        why = "must not contain spaces or control characters (CR, LF, NUL, ...)";
        return std::nullopt;
    }
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) {
        why = "must start with http:// or https://";
        return std::nullopt;
    }
    url out;
    out.scheme = lower(text.substr(0, scheme_end));
    if (out.scheme != "http" && out.scheme != "https") {
        why = "must use http or https, not " + out.scheme;
        return std::nullopt;
    }
    std::string_view rest = text.substr(scheme_end + 3);
    const auto authority_end = rest.find_first_of("/?#");
    const std::string_view authority = rest.substr(0, authority_end);
    const std::string_view tail =
        authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos) {
        why = "must not contain credentials (user:password@); give the key as api_key";
        return std::nullopt;
    }
    if (tail.find_first_of("?#") != std::string_view::npos) {
        why = "must not contain a query string or fragment";
        return std::nullopt;
    }
    std::string_view host_part = authority;
    std::string_view port_part;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) {
            why = "has an unterminated IPv6 address";
            return std::nullopt;
        }
        host_part = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') {
                why = "has characters after the IPv6 address";
                return std::nullopt;
            }
            port_part = after.substr(1);
            has_port = true;
        }
        if (!valid_ipv6_literal(host_part)) {
            why = "has an invalid IPv6 address";
            return std::nullopt;
        }
        out.ipv6_literal = true;
    } else {
        const auto colon = authority.rfind(':');
        if (colon != std::string_view::npos) {
            host_part = authority.substr(0, colon);
            port_part = authority.substr(colon + 1);
            has_port = true;
        }
        if (!valid_reg_name(host_part)) {
            why = host_part.empty() ? "has no host" : "has an invalid host name";
            return std::nullopt;
        }
    }
    out.host = lower(host_part);
    out.port = out.scheme == "https" ? 443 : 80;
    if (has_port) {
        unsigned value = 0;
        const auto* end = port_part.data() + port_part.size();
        const auto [ptr, ec] = std::from_chars(port_part.data(), end, value);
        if (port_part.empty() || ec != std::errc{} || ptr != end || value == 0 || value > 65535) {
            why = "has an invalid port";
            return std::nullopt;
        }
        out.port = static_cast<std::uint16_t>(value);
    }
    std::string path(tail);
    while (!path.empty() && path.back() == '/') {
        path.pop_back();
    }
    out.path = std::move(path);
    return out;
}

} // namespace aignehub::upstream
