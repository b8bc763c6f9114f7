#include "gateway/codec_util.hpp"

#include "aignehub/crypto.hpp"

#include <cmath>
#include <limits>
#include <utility>

namespace aignehub::gateway::codec {

canon::part make_part(canon::part_kind kind, std::string text) {
    canon::part p;
    p.kind = kind;
    p.text = std::move(text);
    return p;
}

canon::event make_event(canon::event_kind kind, std::string text, int index) {
    canon::event e;
    e.kind = kind;
    e.text = std::move(text);
    e.index = index;
    return e;
}

bad_field refuse(std::string param, std::string message) {
    return bad_field{std::move(param), std::move(message), "invalid_request"};
}

const ojson& member(const ojson& object, std::string_view key) {
    static const ojson null;
    if (!object.is_object()) {
        return null;
    }
    const auto it = object.find(key);
    return it == object.end() ? null : *it;
}

std::string string_member(const ojson& object, std::string_view key) {
    const ojson& v = member(object, key);
    return v.is_string() ? v.get<std::string>() : std::string();
}

std::optional<std::int64_t> integer_of(const ojson& v) {
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(u);
    }
    if (v.is_number_integer()) {
        return v.get<std::int64_t>();
    }
    if (v.is_number_float()) {
        const double d = v.get<double>();
        if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e18) {
            return static_cast<std::int64_t>(d);
        }
    }
    return std::nullopt;
}

ojson object_schema(const ojson& parameters) {
    return parameters.is_object() ? parameters
                                  : ojson{{"type", "object"}, {"properties", ojson::object()}};
}

std::optional<scan::value> scan_object(std::string_view body) {
    if (!scan::valid(body)) {
        return std::nullopt;
    }
    const scan::value top = scan::document(body);
    if (top.type != scan::kind::object) {
        return std::nullopt;
    }
    return top;
}

std::optional<std::int64_t> budget_of_effort(std::string_view effort) {
    if (effort == "minimal" || effort == "none") {
        return 0;
    }
    if (effort == "low") {
        return 1024;
    }
    if (effort == "medium") {
        return 8192;
    }
    if (effort == "high") {
        return 24576;
    }
    return std::nullopt;
}

std::optional<data_url> parse_data_url(std::string_view url) {
    if (!url.starts_with("data:")) {
        return std::nullopt;
    }
    url.remove_prefix(5);
    const auto comma = url.find(',');
    if (comma == std::string_view::npos) {
        return std::nullopt;
    }
    const std::string_view meta = url.substr(0, comma);
    if (!meta.ends_with(";base64")) {
        return std::nullopt;
    }
    return data_url{std::string(meta.substr(0, meta.find(';'))),
                    std::string(url.substr(comma + 1))};
}

std::string make_data_url(std::string_view media_type, std::string_view data) {
    std::string out = "data:";
    out.append(media_type);
    out.append(";base64,");
    out.append(data);
    return out;
}

std::string clean_text(std::string_view text, std::size_t max) {
    if (text.size() > max) {
        std::size_t cut = max;
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
            --cut; // not inside a multi-byte character
        }
        text = text.substr(0, cut);
    }
    std::string plain;
    plain.reserve(text.size());
    for (const char c : text) {
        plain.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? ' ' : c);
    }
    return plain;
}

// The ids carry no authority, but the CSPRNG is here already and costs no system call per id.
std::string random_hex(std::size_t bytes) {
    return crypto::hex_encode(crypto::random_bytes(bytes));
}

} // namespace aignehub::gateway::codec
