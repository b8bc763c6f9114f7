#include "billing/usage_query.hpp"

#include "aignehub/errors.hpp"
#include "auth/keys.hpp"
#include "core/json_input.hpp"

#include <charconv>

namespace aignehub::billing {

namespace {

using nlohmann::json;

// A whole number given as a JSON number or as the digits of a query string.
std::optional<std::int64_t> number(const json& filter, const char* field, std::int64_t min,
                                   std::int64_t max) {
    if (!detail::has(filter, field)) {
        return std::nullopt;
    }
    const json& value = filter[field];
    std::int64_t n = 0;
    if (value.is_number_integer()) {
        n = value.get<std::int64_t>();
    } else if (value.is_string()) {
        const auto& text = value.get_ref<const std::string&>();
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec != std::errc{} || end != text.data() + text.size()) {
            throw invalid_input(field, "must be a whole number");
        }
    } else {
        throw invalid_input(field, "must be a whole number");
    }
    if (n < min || n > max) {
        throw invalid_input(field, "must be between " + std::to_string(min) + " and " +
                                       std::to_string(max));
    }
    return n;
}

// "YYYY-MM-DDTHH:MM:SS[.f...]Z" in the stored form (exactly three decimals), so that text
// comparison orders by time. Done on the text: a far-off year must not overflow a clock.
std::optional<std::string> time_of(const json& filter, const char* field) {
    if (!detail::has(filter, field)) {
        return std::nullopt;
    }
    const std::string text = detail::text_field(filter, field, 64);
    const auto digits = [&](std::size_t from, std::size_t count) {
        if (from + count > text.size()) {
            return false;
        }
        for (std::size_t i = from; i < from + count; ++i) {
            if (text[i] < '0' || text[i] > '9') {
                return false;
            }
        }
        return true;
    };
    const bool shape = text.size() >= 20 && digits(0, 4) && text[4] == '-' && digits(5, 2) &&
                       text[7] == '-' && digits(8, 2) && text[10] == 'T' && digits(11, 2) &&
                       text[13] == ':' && digits(14, 2) && text[16] == ':' && digits(17, 2) &&
                       text.back() == 'Z' &&
                       (text.size() == 20 ||
                        (text[19] == '.' && text.size() > 21 && digits(20, text.size() - 21)));
    if (!shape || !auth::parse_time(text.substr(0, 19) + "Z")) {
        throw invalid_input(field, "must be a UTC time like 2026-01-31T12:00:00Z");
    }
    std::string fraction = text.size() > 20 ? text.substr(20, text.size() - 21) : "";
    fraction.resize(3, '0');
    return text.substr(0, 19) + "." + fraction + "Z";
}

std::optional<std::string> text_of(const json& filter, const char* field) {
    if (!detail::has(filter, field)) {
        return std::nullopt;
    }
    return detail::text_field(filter, field, 512);
}

template <class T> json optional(const std::optional<T>& value) {
    return value ? json(*value) : json(nullptr);
}

} // namespace

json usage_json(const usage_row& r) {
    return {{"id", r.id},
            {"request_id", r.request_id},
            {"user_id", optional(r.user_id)},
            {"key_id", optional(r.key_id)},
            {"app", r.app},
            {"provider", r.provider},
            {"credential_id", optional(r.credential_id)},
            {"model_requested", r.model_requested},
            {"model_served", r.model_served},
            {"prompt_tokens", r.prompt_tokens},
            {"completion_tokens", r.completion_tokens},
            {"cached_tokens", r.cached_tokens},
            {"cache_write_5m_tokens", r.cache_write_5m_tokens},
            {"cache_write_1h_tokens", r.cache_write_1h_tokens},
            {"reasoning_tokens", r.reasoning_tokens},
            {"images", r.images},
            {"status", r.status},
            {"error_kind", r.error_kind},
            {"latency_us", r.latency_us},
            {"ttfb_us", optional(r.ttfb_us)},
            {"upstream_ttfb_us", optional(r.upstream_ttfb_us)},
            {"attempts", r.attempts},
            {"created_at", r.created_at}};
}

json query_usage(const store& db, const actor& who, const json& filter) {
    // user_id and key_id, not user and key: "key=" in a query string is refused as a leaked
    // access key before any handler runs.
    detail::only_fields(filter, {"since", "until", "user_id", "key_id", "model", "provider",
                                 "status", "limit", "cursor"});
    constexpr std::int64_t max_id = std::numeric_limits<std::int64_t>::max();
    usage_filter f;
    f.since = time_of(filter, "since");
    f.until = time_of(filter, "until");
    f.user_id = number(filter, "user_id", 1, max_id);
    f.key_id = number(filter, "key_id", 1, max_id);
    f.model = text_of(filter, "model");
    f.provider = text_of(filter, "provider");
    f.status = number(filter, "status", 100, 599);
    f.limit = number(filter, "limit", 1, 1000).value_or(100);
    f.before_id = number(filter, "cursor", 1, max_id);
    if (!who.manages_everything()) {
        if (f.user_id && f.user_id != who.user_id) {
            throw forbidden_error("members may read only their own usage");
        }
        f.user_id = who.user_id;
    }
    const auto rows = db.query_usage(f);
    json data = json::array();
    for (const auto& row : rows) {
        data.push_back(usage_json(row));
    }
    json next = nullptr;
    if (static_cast<std::int64_t>(rows.size()) == f.limit) {
        next = std::to_string(rows.back().id);
    }
    return {{"object", "list"}, {"data", std::move(data)}, {"next_cursor", std::move(next)}};
}

} // namespace aignehub::billing
