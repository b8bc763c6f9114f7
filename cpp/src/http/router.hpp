#pragma once

#include "http/types.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
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

/// How a streaming handler talks to its client. Implemented by the server for the connection
/// the request came on; every call runs on that connection's strand.
class responder {
public:
    responder() = default;
    responder(const responder&) = delete;
    responder& operator=(const responder&) = delete;
    responder(responder&&) = delete;
    responder& operator=(responder&&) = delete;
    virtual ~responder() = default;

    /// Starts a streamed answer with the status line and fields of `head` and
    /// Transfer-Encoding: chunked; they leave with the first chunk. False when the client is
    /// gone.
    virtual boost::asio::awaitable<bool> start_chunked(const response& head) = 0;
    /// Sends one chunk (and the head, the first time) at once. False when the client is gone.
    virtual boost::asio::awaitable<bool> write_chunk(std::string_view data) = 0;
    /// Sends `last` as a final chunk, if any, and ends the body, in one write. False when the
    /// client is gone.
    virtual boost::asio::awaitable<bool> finish_chunked(std::string_view last = {}) = 0;
    /// Completes when the client closes its connection (true), or when cancelled (false).
    /// Bytes the client sends meanwhile (a pipelined request) stay unread for the session.
    virtual boost::asio::awaitable<bool> client_gone() = 0;
    /// When the request's header was complete.
    [[nodiscard]] virtual std::chrono::steady_clock::time_point started() const = 0;
};

/// A handler that may wait (on a provider, on the usage writer) without blocking its thread.
/// It either fills `res` and returns (the session writes it) or streams through `out`.
using async_handler = std::function<boost::asio::awaitable<void>(
    const request&, response& res, const route_context&, responder& out)>;

/// The query string of `target` as decoded name/value pairs ('+' is a space); nullopt when an
/// escape is malformed or encodes NUL.
[[nodiscard]] std::optional<std::vector<std::pair<std::string, std::string>>>
query_params(std::string_view target);

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
    /// Rewrites an error answer (status >= 400, in OpenAI's shape as make_error writes it) into
    /// the shape of the route's own protocol, whoever wrote it: the key check or the handler.
    void (*reshape_error)(response& res) = nullptr;
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
        async_handler async_fn; ///< set instead of fn for coroutine handlers
    };
    struct match {
        const route* target = nullptr;
        route_params params;
    };

    void add(beast_http::verb method, std::string path, handler fn, route_options options = {});
    void add_async(beast_http::verb method, std::string path, async_handler fn,
                   route_options options = {});
    /// The route for `req`, or nullopt after filling `res` with the 404 or 405 answer.
    [[nodiscard]] std::optional<match> find(const request& req, response& res) const;

private:
    struct pattern {
        std::vector<std::string> segments; ///< "{name}" for a placeholder
        std::vector<route> routes;
    };
    void insert(route r, std::string path);
    void answer_unmatched(const request& req, response& res, std::string_view path,
                          const std::vector<route>* known) const;

    std::unordered_map<std::string, std::vector<route>> exact_;
    std::vector<pattern> patterns_;
};

} // namespace aignehub::http
