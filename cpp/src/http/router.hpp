#pragma once

#include "http/types.hpp"

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace aignehub::auth {
struct principal;
}

namespace aignehub::http {

/// Values taken from a route's {placeholders}.
class route_params {
public:
    void add(std::string_view name, std::string value) {
        values_.emplace_back(name, std::move(value));
    }
    /// The value of {name}; empty when the route has no such placeholder.
    [[nodiscard]] std::string_view get(std::string_view name) const noexcept {
        for (const auto& [key, value] : values_) {
            if (key == name) {
                return value;
            }
        }
        return {};
    }

private:
    std::vector<std::pair<std::string_view, std::string>> values_;
};

/// What a handler knows beyond the request: its route's placeholders and, on routes that
/// require a key, who is calling.
struct route_context {
    route_params params;
    const auth::principal* who = nullptr;
};

/// A handler fills in the response for a request the router matched. It may throw only for
/// bugs; the session turns an escaped exception into a 500 without details.
using handler = std::function<void(const request&, response&, const route_context&)>;

/// Who may call a route.
enum class access {
    open,    ///< anyone (health checks)
    key,     ///< any valid access key
    manager, ///< an access key of an owner or admin
};

/// How a route runs.
struct route_options {
    /// Runs on the control-plane thread pool because it may block (database writes, calls to
    /// providers); other handlers run on the connection's I/O thread.
    bool blocking = false;
    access who = access::open;
};

/// Maps (method, path) to handlers. Paths are exact ("/healthz") or patterns with whole-segment
/// placeholders ("/api/admin/providers/{name}"); a last "{name+}" takes the rest of the path.
/// Unknown paths get a JSON 404, known paths with another method a JSON 405 with an Allow header;
/// HEAD is served by the GET handler.
class router {
public:
    struct route {
        beast_http::verb method;
        handler fn;
        route_options options;
    };
    struct match {
        const route* target = nullptr;
        route_params params;
    };

    void add(beast_http::verb method, std::string path, handler fn, route_options options = {});
    /// The route for `req`, or nullopt after filling `res` with the 404 or 405 answer.
    [[nodiscard]] std::optional<match> find(const request& req, response& res) const;

private:
    struct pattern {
        std::vector<std::string> segments; ///< "{name}" for a placeholder
        std::vector<route> routes;
    };
    void answer_unmatched(const request& req, response& res, std::string_view path,
                          const std::vector<route>* known) const;

    std::unordered_map<std::string, std::vector<route>> exact_;
    std::vector<pattern> patterns_;
};

} // namespace aignehub::http
