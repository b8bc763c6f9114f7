#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// A validating JSON scanner that builds nothing: it checks a document against RFC 8259 (UTF-8
/// included) and walks objects and arrays as views into the text. The request path uses it to
/// check a client's body, read a few fields and splice the model name, and to read the model
/// and usage of an answer, without a DOM's allocations (decision 1 of ARCHITECTURE.md keeps
/// bytes untouched when both sides speak the same wire).
namespace aignehub::gateway::scan {

enum class kind : char {
    object = '{',
    array = '[',
    string = '"',
    number = '0',
    boolean = 't',
    null = 'n',
};

/// One value of a validated document: its text (a string keeps its quotes) and kind.
struct value {
    std::string_view text;
    kind type = kind::null;
};

/// Deepest nesting accepted; deeper documents are refused rather than risking the stack.
inline constexpr int max_depth = 256;

/// True when `text` is exactly one JSON value, with optional whitespace around it.
[[nodiscard]] bool valid(std::string_view text) noexcept;

/// The one value of a valid document, whitespace trimmed.
[[nodiscard]] value document(std::string_view text) noexcept;

/// Calls fn(key, member) for each member of a valid object value; `key` is the raw text
/// between the quotes (escapes not decoded: see key_is). fn returns false to stop.
template <class Fn> void members(const value& object, Fn&& fn);
/// Calls fn(element) for each element of a valid array value; fn returns false to stop.
template <class Fn> void elements(const value& array, Fn&& fn);

/// True when the raw key text spells `name` (decoding escapes when there are any).
[[nodiscard]] bool key_is(std::string_view raw, std::string_view name);
/// The decoded content of a string value.
[[nodiscard]] std::string text_of(const value& string);
/// A number value as a whole number, when it is one (1, -3, 2.0 and 1e2 are; 2.5 is not).
[[nodiscard]] std::optional<std::int64_t> integer_of(const value& number) noexcept;

/// A string as a JSON string literal (quotes included), for splicing into a document.
[[nodiscard]] std::string quoted(std::string_view text);

namespace detail {
/// The kind of the value whose first character is `c` (in a valid document).
[[nodiscard]] constexpr kind kind_of(char c) noexcept {
    switch (c) {
    case '{':
        return kind::object;
    case '[':
        return kind::array;
    case '"':
        return kind::string;
    case 't':
    case 'f':
        return kind::boolean;
    case 'n':
        return kind::null;
    default:
        return kind::number;
    }
}
/// The end of the value starting at `pos` in a valid document (no leading whitespace).
[[nodiscard]] std::size_t end_of(std::string_view text, std::size_t pos) noexcept;
[[nodiscard]] std::size_t skip_ws(std::string_view text, std::size_t pos) noexcept;
} // namespace detail

template <class Fn> void members(const value& object, Fn&& fn) {
    const std::string_view t = object.text;
    std::size_t pos = detail::skip_ws(t, 1);
    while (pos < t.size() && t[pos] == '"') {
        const std::size_t key_end = detail::end_of(t, pos);
        const std::string_view key = t.substr(pos + 1, key_end - pos - 2);
        pos = detail::skip_ws(t, key_end);
        pos = detail::skip_ws(t, pos + 1); // the colon
        const std::size_t end = detail::end_of(t, pos);
        if (!fn(key, value{t.substr(pos, end - pos), detail::kind_of(t[pos])})) {
            return;
        }
        pos = detail::skip_ws(t, end);
        if (pos < t.size() && t[pos] == ',') {
            pos = detail::skip_ws(t, pos + 1);
        }
    }
}

template <class Fn> void elements(const value& array, Fn&& fn) {
    const std::string_view t = array.text;
    std::size_t pos = detail::skip_ws(t, 1);
    while (pos < t.size() && t[pos] != ']') {
        const std::size_t end = detail::end_of(t, pos);
        if (!fn(value{t.substr(pos, end - pos), detail::kind_of(t[pos])})) {
            return;
        }
        pos = detail::skip_ws(t, end);
        if (pos < t.size() && t[pos] == ',') {
            pos = detail::skip_ws(t, pos + 1);
        }
    }
}

} // namespace aignehub::gateway::scan
