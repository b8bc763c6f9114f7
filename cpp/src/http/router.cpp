#include "http/router.hpp"

#include "core/hex.hpp"
#include "http/access_log.hpp"
#include "http/errors.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <optional>

namespace aignehub::http {

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> parts;
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        const auto end = slash == std::string_view::npos ? path.size() : slash;
        parts.emplace_back(path.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

bool is_placeholder(const std::string& segment) {
    return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Percent-decodes a captured path segment; nullopt for a bad escape or an encoded NUL.
std::optional<std::string> decoded(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int high = detail::hex_digit(text[i + 1]);
        const int low = detail::hex_digit(text[i + 2]);
        if (high < 0 || low < 0 || (high == 0 && low == 0)) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

// "{name+}" as the last segment takes the rest of the path, slashes included.
bool is_rest(const std::string& segment) {
    return is_placeholder(segment) && segment[segment.size() - 2] == '+';
}

const router::route* pick(const std::vector<router::route>& routes, beast_http::verb method) {
    const beast_http::verb wanted =
        method == beast_http::verb::head ? beast_http::verb::get : method;
    for (const auto& r : routes) {
        if (r.method == wanted) {
            return &r;
        }
    }
    return nullptr;
}

} // namespace

std::optional<std::vector<std::pair<std::string, std::string>>>
query_params(std::string_view target) {
    std::vector<std::pair<std::string, std::string>> out;
    const auto q = target.find('?');
    if (q == std::string_view::npos) {
        return out;
    }
    std::string_view query = target.substr(q + 1);
    while (!query.empty()) {
        const auto amp = query.find('&');
        std::string pair(query.substr(0, amp));
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        std::replace(pair.begin(), pair.end(), '+', ' ');
        const auto eq = pair.find('=');
        auto name = decoded(std::string_view(pair).substr(0, eq));
        auto value = decoded(eq == std::string::npos ? std::string_view{}
                                                     : std::string_view(pair).substr(eq + 1));
        if (!name || !value) {
            return std::nullopt;
        }
        out.emplace_back(std::move(*name), std::move(*value));
    }
    return out;
}

void router::add(beast_http::verb method, std::string path, handler fn, route_options options) {
    insert(route{method, std::move(fn), options, {}}, std::move(path));
}

void router::add_async(beast_http::verb method, std::string path, async_handler fn,
                       route_options options) {
    insert(route{method, {}, options, std::move(fn)}, std::move(path));
}

void router::insert(route r, std::string path) {
    if (path.find('{') == std::string::npos) {
        exact_[std::move(path)].push_back(std::move(r));
        return;
    }
    auto segments = split_path(path);
    for (auto& p : patterns_) {
        if (p.segments == segments) {
            p.routes.push_back(std::move(r));
            return;
        }
    }
    patterns_.push_back(pattern{std::move(segments), {std::move(r)}});
}

std::optional<router::match> router::find(const request& req, response& res) const {
    const std::string_view path = path_of(req.target());
    if (const auto found = exact_.find(std::string(path)); found != exact_.end()) {
        if (const route* r = pick(found->second, req.method())) {
            return match{r, {}};
        }
        answer_unmatched(req, res, path, &found->second);
        return std::nullopt;
    }
    if (!patterns_.empty() && path.starts_with('/')) {
        const auto parts = split_path(path);
        for (const auto& p : patterns_) {
            const bool rest = is_rest(p.segments.back());
            if (rest ? parts.size() < p.segments.size() : p.segments.size() != parts.size()) {
                continue;
            }
            route_params params;
            bool fits = true;
            for (std::size_t i = 0; i < p.segments.size() && fits; ++i) {
                const std::string_view name(p.segments[i]);
                if (rest && i + 1 == p.segments.size()) {
                    std::string tail = parts[i];
                    for (std::size_t k = i + 1; k < parts.size(); ++k) {
                        tail += "/" + parts[k];
                    }
                    auto value = decoded(tail);
                    fits = !parts[i].empty() && !parts.back().empty() && value && !value->empty();
                    params.add(name.substr(1, name.size() - 3), value.value_or(""));
                } else if (is_placeholder(p.segments[i])) {
                    auto value = decoded(parts[i]);
                    fits = value && !value->empty();
                    params.add(name.substr(1, name.size() - 2), value.value_or(""));
                } else {
                    fits = p.segments[i] == parts[i];
                }
            }
            if (!fits) {
                continue;
            }
            if (const route* r = pick(p.routes, req.method())) {
                return match{r, std::move(params)};
            }
            answer_unmatched(req, res, path, &p.routes);
            return std::nullopt;
        }
    }
    answer_unmatched(req, res, path, nullptr);
    return std::nullopt;
}

void router::answer_unmatched(const request& req, response& res, std::string_view path,
                              const std::vector<route>* known) const {
    if (known == nullptr) {
        std::string message = "no route for ";
        message.append(req.method_string());
        message.push_back(' ');
        message.append(path);
        make_error(res, error_kind::not_found, message);
        return;
    }
    std::string allow;
    for (const route& r : *known) {
        if (!allow.empty()) {
            allow.append(", ");
        }
        allow.append(beast_http::to_string(r.method));
        if (r.method == beast_http::verb::get) {
            allow.append(", HEAD");
        }
    }
    std::string message = "method ";
    message.append(req.method_string());
    message.append(" is not allowed on ");
    message.append(path);
    make_error(res, error_kind::method_not_allowed, message);
    res.set(beast_http::field::allow, allow);
}

} // namespace aignehub::http
