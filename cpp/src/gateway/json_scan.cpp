#include "gateway/json_scan.hpp"

#include "core/hex.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

namespace aignehub::gateway::scan {

namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_ws(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}

// Reads \uXXXX at `pos` (the backslash); -1 when malformed.
long code_unit(std::string_view t, std::size_t pos) noexcept {
    if (pos + 6 > t.size() || t[pos] != '\\' || t[pos + 1] != 'u') {
        return -1;
    }
    long unit = 0;
    for (std::size_t i = pos + 2; i < pos + 6; ++i) {
        const int h = aignehub::detail::hex_digit(t[i]);
        if (h < 0) {
            return -1;
        }
        unit = unit * 16 + h;
    }
    return unit;
}

// Length of the valid UTF-8 sequence starting at `pos` (a byte >= 0x80); 0 when invalid.
std::size_t utf8_length(std::string_view t, std::size_t pos) noexcept {
    const auto b = [&](std::size_t i) { return static_cast<unsigned char>(t[i]); };
    const unsigned char c = b(pos);
    std::size_t n = 0;
    unsigned lo = 0x80;
    unsigned hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF; // no UTF-16 surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (pos + n > t.size() || b(pos + 1) < lo || b(pos + 1) > hi) {
        return 0;
    }
    for (std::size_t i = 2; i < n; ++i) {
        if (b(pos + i) < 0x80 || b(pos + i) > 0xBF) {
            return 0;
        }
    }
    return n;
}

// Validates the string starting at `pos` (its opening quote); its end, or npos.
std::size_t check_string(std::string_view t, std::size_t pos) noexcept {
    std::size_t i = pos + 1;
    while (i < t.size()) {
        const auto c = static_cast<unsigned char>(t[i]);
        if (c == '"') {
            return i + 1;
        }
        if (c < 0x20) {
            return npos;
        }
        if (c == '\\') {
            if (i + 1 >= t.size()) {
                return npos;
            }
            const char e = t[i + 1];
            if (e == 'u') {
                const long unit = code_unit(t, i);
                if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) {
                    return npos; // malformed, or a low surrogate alone
                }
                if (unit >= 0xD800 && unit <= 0xDBFF) {
                    const long low = code_unit(t, i + 6);
                    if (low < 0xDC00 || low > 0xDFFF) {
                        return npos;
                    }
                    i += 12;
                } else {
                    i += 6;
                }
                continue;
            }
            if (std::strchr("\"\\/bfnrt", e) == nullptr || e == '\0') {
                return npos;
            }
            i += 2;
            continue;
        }
        if (c >= 0x80) {
            const std::size_t n = utf8_length(t, i);
            if (n == 0) {
                return npos;
            }
            i += n;
            continue;
        }
        ++i;
    }
    return npos;
}

std::size_t check_number(std::string_view t, std::size_t i) noexcept {
    if (i < t.size() && t[i] == '-') {
        ++i;
    }
    if (i >= t.size()) {
        return npos;
    }
    if (t[i] == '0') {
        ++i;
    } else if (t[i] >= '1' && t[i] <= '9') {
        while (i < t.size() && is_digit(t[i])) {
            ++i;
        }
    } else {
        return npos;
    }
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (i >= t.size() || !is_digit(t[i])) {
            return npos;
        }
        while (i < t.size() && is_digit(t[i])) {
            ++i;
        }
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
            ++i;
        }
        if (i >= t.size() || !is_digit(t[i])) {
            return npos;
        }
        while (i < t.size() && is_digit(t[i])) {
            ++i;
        }
    }
    return i;
}

std::size_t check_value(std::string_view t, std::size_t pos, int depth) noexcept;

std::size_t check_container(std::string_view t, std::size_t pos, int depth) noexcept {
    if (depth >= max_depth) {
        return npos;
    }
    const bool object = t[pos] == '{';
    const char close = object ? '}' : ']';
    std::size_t i = detail::skip_ws(t, pos + 1);
    if (i < t.size() && t[i] == close) {
        return i + 1;
    }
    for (;;) {
        if (object) {
            if (i >= t.size() || t[i] != '"') {
                return npos;
            }
            i = check_string(t, i);
            if (i == npos) {
                return npos;
            }
            i = detail::skip_ws(t, i);
            if (i >= t.size() || t[i] != ':') {
                return npos;
            }
            i = detail::skip_ws(t, i + 1);
        }
        i = check_value(t, i, depth + 1);
        if (i == npos) {
            return npos;
        }
        i = detail::skip_ws(t, i);
        if (i >= t.size()) {
            return npos;
        }
        if (t[i] == close) {
            return i + 1;
        }
        if (t[i] != ',') {
            return npos;
        }
        i = detail::skip_ws(t, i + 1);
    }
}

std::size_t check_literal(std::string_view t, std::size_t pos, std::string_view word) noexcept {
    return t.substr(pos, word.size()) == word ? pos + word.size() : npos;
}

std::size_t check_value(std::string_view t, std::size_t pos, int depth) noexcept {
    if (pos >= t.size()) {
        return npos;
    }
    switch (t[pos]) {
    case '{':
    case '[':
        return check_container(t, pos, depth);
    case '"':
        return check_string(t, pos);
    case 't':
        return check_literal(t, pos, "true");
    case 'f':
        return check_literal(t, pos, "false");
    case 'n':
        return check_literal(t, pos, "null");
    default:
        return check_number(t, pos);
    }
}

void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// Decodes the escapes of valid string content (without its quotes).
std::string decode(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] != '\\') {
            out.push_back(raw[i]);
            continue;
        }
        const char e = raw[i + 1];
        switch (e) {
        case 'b':
            out.push_back('\b');
            break;
        case 'f':
            out.push_back('\f');
            break;
        case 'n':
            out.push_back('\n');
            break;
        case 'r':
            out.push_back('\r');
            break;
        case 't':
            out.push_back('\t');
            break;
        case 'u': {
            auto cp = static_cast<unsigned long>(code_unit(raw, i));
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                const auto low = static_cast<unsigned long>(code_unit(raw, i + 6));
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                i += 6;
            }
            append_utf8(out, cp);
            i += 4;
            break;
        }
        default:
            out.push_back(e); // " \ /
        }
        ++i;
    }
    return out;
}

} // namespace

namespace detail {

std::size_t skip_ws(std::string_view text, std::size_t pos) noexcept {
    while (pos < text.size() && is_ws(text[pos])) {
        ++pos;
    }
    return pos;
}

std::size_t end_of(std::string_view t, std::size_t pos) noexcept {
    const char c = t[pos];
    if (c == '"') {
        // memchr to the next quote (vectorised), then count the backslashes before it: an odd
        // number escapes it. (string_view::find_first_of would call memchr per character.)
        std::size_t i = pos + 1;
        for (;;) {
            const void* hit = std::memchr(t.data() + i, '"', t.size() - i);
            if (hit == nullptr) {
                return t.size();
            }
            i = static_cast<std::size_t>(static_cast<const char*>(hit) - t.data());
            std::size_t slashes = 0;
            while (i - slashes > pos + 1 && t[i - slashes - 1] == '\\') {
                ++slashes;
            }
            if (slashes % 2 == 0) {
                return i + 1;
            }
            ++i;
        }
    }
    if (c == '{' || c == '[') {
        int depth = 0;
        for (std::size_t i = pos; i < t.size(); ++i) {
            const char d = t[i];
            if (d == '"') {
                i = end_of(t, i) - 1;
            } else if (d == '{' || d == '[') {
                ++depth;
            } else if ((d == '}' || d == ']') && --depth == 0) {
                return i + 1;
            }
        }
        return t.size();
    }
    std::size_t i = pos;
    while (i < t.size() && !is_ws(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']') {
        ++i;
    }
    return i;
}

} // namespace detail

bool valid(std::string_view text) noexcept {
    const std::size_t start = detail::skip_ws(text, 0);
    const std::size_t end = check_value(text, start, 0);
    return end != npos && detail::skip_ws(text, end) == text.size();
}

value document(std::string_view text) noexcept {
    const std::size_t start = detail::skip_ws(text, 0);
    const std::size_t end = detail::end_of(text, start);
    return {text.substr(start, end - start), detail::kind_of(text[start])};
}

bool key_is(std::string_view raw, std::string_view name) {
    if (raw.find('\\') == std::string_view::npos) {
        return raw == name;
    }
    return decode(raw) == name;
}

std::string text_of(const value& string) {
    const std::string_view raw = string.text.substr(1, string.text.size() - 2);
    return raw.find('\\') == std::string_view::npos ? std::string(raw) : decode(raw);
}

std::optional<std::int64_t> integer_of(const value& number) noexcept {
    const std::string_view t = number.text;
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    if (ec == std::errc{} && end == t.data() + t.size()) {
        return n;
    }
    double d = 0;
    const auto [dend, dec] = std::from_chars(t.data(), t.data() + t.size(), d);
    if (dec != std::errc{} || dend != t.data() + t.size() || d != std::floor(d) ||
        std::fabs(d) > 9.0e15) {
        return std::nullopt;
    }
    return static_cast<std::int64_t>(d);
}

std::string quoted(std::string_view text) {
    std::string out;
    out.reserve(text.size() + 2);
    out.push_back('"');
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out.push_back('\\');
            out.push_back(c);
        } else if (u < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out.append("\\u00");
            out.push_back(hex[u >> 4]);
            out.push_back(hex[u & 0xF]);
        } else {
            out.push_back(c);
        }
    }
    out.push_back('"');
    return out;
}

} // namespace aignehub::gateway::scan
