#include "gateway/sse.hpp"

namespace aignehub::gateway {

event_splitter::boundary event_splitter::next_end(std::size_t from) const noexcept {
    const std::string_view text(pending_);
    if (ndjson_) {
        const auto nl = text.find('\n', from);
        return nl == std::string_view::npos ? boundary{0, false} : boundary{nl + 1, true};
    }
    for (std::size_t i = text.find('\n', from); i != std::string_view::npos;
         i = text.find('\n', i + 1)) {
        // "\n\n", or "\n\r\n" (a CRLF blank line after a CRLF line)
        if (i + 1 < text.size() && text[i + 1] == '\n') {
            return {i + 2, true};
        }
        if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
            return {i + 3, true};
        }
    }
    return {0, false};
}

sse_event parse_event(std::string_view event) {
    sse_event out;
    bool first_data = true;
    while (!event.empty()) {
        auto nl = event.find('\n');
        std::string_view line = event.substr(0, nl);
        event.remove_prefix(nl == std::string_view::npos ? event.size() : nl + 1);
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (line.empty() || line.front() == ':') {
            continue; // blank line or comment (keep-alive)
        }
        const auto colon = line.find(':');
        const std::string_view field = line.substr(0, colon);
        std::string_view value =
            colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
        if (!value.empty() && value.front() == ' ') {
            value.remove_prefix(1);
        }
        if (field == "data") {
            if (!first_data) {
                out.data.push_back('\n');
            }
            out.data.append(value);
            first_data = false;
        } else if (field == "event") {
            out.name = value;
        }
    }
    return out;
}

} // namespace aignehub::gateway
