#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace aignehub::gateway {

/// Cuts a byte stream into events as the pieces arrive: server-sent events end at a blank line
/// ("\n\n" or "\r\n\r\n"), NDJSON records at a newline. An event split across pieces is kept
/// until its end arrives; nothing else is buffered.
class event_splitter {
public:
    explicit event_splitter(bool ndjson = false) : ndjson_(ndjson) {}

    /// Appends `piece` and calls `fn(event)` for each complete event, its terminator included.
    template <class Fn> void feed(std::string_view piece, Fn&& fn) {
        pending_.append(piece);
        std::size_t start = 0;
        for (;;) {
            const auto [end, found] = next_end(start);
            if (!found) {
                break;
            }
            fn(std::string_view(pending_).substr(start, end - start));
            start = end;
        }
        pending_.erase(0, start);
    }

    /// What arrived after the last complete event (a stream cut short).
    [[nodiscard]] const std::string& rest() const noexcept { return pending_; }

private:
    struct boundary {
        std::size_t end;
        bool found;
    };
    [[nodiscard]] boundary next_end(std::size_t from) const noexcept;

    bool ndjson_;
    std::string pending_;
};

/// The parts of one server-sent event.
struct sse_event {
    std::string_view name; ///< the "event:" field; empty for the default "message"
    std::string data;      ///< the "data:" lines joined by "\n"
};

/// Parses the fields of one event (as event_splitter hands it over).
[[nodiscard]] sse_event parse_event(std::string_view event);

} // namespace aignehub::gateway
