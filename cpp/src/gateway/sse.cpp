#include "gateway/sse.hpp"

namespace aignehub::gateway {

event_splitter::boundary event_splitter::next_event(std::size_t from) noexcept {
    const std::string_view text(pending_);
    switch (mode_) {
    case framing::json_array:
        return next_element();
    case framing::ndjson: {
        const auto nl = text.find('\n', from);
        return nl == std::string_view::npos ? boundary{from, 0, false}
                                            : boundary{from, nl + 1, true};
    }
    case framing::sse:
        break;
    }
    for (std::size_t i = text.find('\n', from); i != std::string_view::npos;
         i = text.find('\n', i + 1)) {
        // "\n\n", or "\n\r\n" (a CRLF blank line after a CRLF line)
        if (i + 1 < text.size() && text[i + 1] == '\n') {
            return {from, i + 2, true};
        }
        if (i + 2 < text.size() && text[i + 1] == '\r' && text[i + 2] == '\n') {
            return {from, i + 3, true};
        }
    }
    return {from, 0, false};
}

event_splitter::boundary event_splitter::next_element() noexcept {
    for (; scan_ < pending_.size(); ++scan_) {
        const char c = pending_[scan_];
        if (in_string_) {
            if (escaped_) {
                escaped_ = false;
            } else if (c == '\\') {
                escaped_ = true;
            } else if (c == '"') {
                in_string_ = false;
            }
            continue;
        }
        switch (c) {
        case '"':
            in_string_ = true;
            if (depth_ == 1 && !in_element_) {
                element_ = scan_;
                in_element_ = true;
            }
            break;
        case '{':
        case '[':
            if (depth_ == 1 && !in_element_) {
                element_ = scan_;
                in_element_ = true;
            }
            ++depth_;
            break;
        case '}':
        case ']':
            --depth_;
            if (depth_ == 1 && in_element_) {
                in_element_ = false;
                ++scan_;
                return {element_, scan_, true};
            }
            break;
        default:
            break;
        }
    }
    return {0, 0, false};
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
