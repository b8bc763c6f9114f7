#pragma once

#include <algorithm>
#include <cstddef>
#include <string>
#include <string_view>

namespace aignehub::gateway {

/// How a provider frames the events of a stream.
enum class framing {
    sse,        ///< server-sent events, ending at a blank line
    ndjson,     ///< one JSON record per line
    json_array, ///< one JSON array whose elements arrive one after another (Gemini without alt=sse)
};

/// Cuts a byte stream into events as the pieces arrive: server-sent events end at a blank line
/// ("\n\n" or "\r\n\r\n"), NDJSON records at a newline, JSON-array elements where their
/// value closes (the array's brackets and commas are not part of any event). An event split
/// across pieces is kept until its end arrives; nothing else is buffered.
class event_splitter {
public:
    explicit event_splitter(framing mode = framing::sse) : mode_(mode) {}

    /// Appends `piece` and calls `fn(event)` for each complete event, its terminator included.
    template <class Fn> void feed(std::string_view piece, Fn&& fn) {
        pending_.append(piece);
        std::size_t start = 0;
        for (;;) {
            const auto [begin, end, found] = next_event(start);
            if (!found) {
                break;
            }
            fn(std::string_view(pending_).substr(begin, end - begin));
            start = end;
        }
        pending_.erase(0, start);
        scan_ -= std::min(scan_, start);
        element_ -= std::min(element_, start);
    }

    /// What arrived after the last complete event (a stream cut short).
    [[nodiscard]] const std::string& rest() const noexcept { return pending_; }

private:
    struct boundary {
        std::size_t begin;
        std::size_t end;
        bool found;
    };
    [[nodiscard]] boundary next_event(std::size_t from) noexcept;
    [[nodiscard]] boundary next_element() noexcept;

    framing mode_;
    std::string pending_;
    // json_array: how far the text was scanned, and the state there.
    std::size_t scan_ = 0;
    std::size_t element_ = 0; ///< where the element being scanned began
    int depth_ = 0;
    bool in_element_ = false;
    bool in_string_ = false;
    bool escaped_ = false;
};

/// The parts of one server-sent event.
struct sse_event {
    std::string_view name; ///< the "event:" field; empty for the default "message"
    std::string data;      ///< the "data:" lines joined by "\n"
};

/// Parses the fields of one event (as event_splitter hands it over).
[[nodiscard]] sse_event parse_event(std::string_view event);

} // namespace aignehub::gateway
