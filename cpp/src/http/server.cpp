#include "aignehub/server.hpp"

#include "admin/api.hpp"
#include "aignehub/errors.hpp"
#include "aignehub/providers.hpp"
#include "aignehub/store.hpp"
#include "aignehub/users.hpp"
#include "auth/keys.hpp"
#include "billing/usage_writer.hpp"
#include "core/log.hpp"
#include "frontdoor/aigne.hpp"
#include "frontdoor/openai.hpp"
#include "gateway/gateway.hpp"
#include "http/access_log.hpp"
#include "http/errors.hpp"
#include "http/health.hpp"
#include "http/request_id.hpp"
#include "http/router.hpp"
#include "routing/routes.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <ctime>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

namespace aignehub {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using std::chrono::steady_clock;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// After an error answer, unread request bytes are drained this long before the close, so that
// the client reads the answer instead of a connection reset.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr std::size_t linger_bytes = 64 * 1024 * 1024;

constexpr std::size_t header_read_size = 8 * 1024;
constexpr std::size_t body_read_size = 64 * 1024;

struct connection {
    explicit connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    // Touched only on the connection's strand: true while waiting for the next request.
    bool idle = true;
    // The serialised status line and header fields of the response being written; kept across
    // requests for its capacity.
    std::string head;
};

// The Date header, formatted at most once a second per thread.
std::string_view http_date() {
    thread_local std::time_t cached_second = 0;
    thread_local std::array<char, 40> cached{};
    thread_local std::size_t cached_len = 0;
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        ::gmtime_r(&now, &tm);
        cached_len = std::strftime(cached.data(), cached.size(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached_second = now;
    }
    return {cached.data(), cached_len};
}

// What the access log and an error answer need to know of the request being served.
struct exchange {
    std::string method = "-";
    std::string target = "-";
    std::string request_id;
    std::string remote;
    steady_clock::time_point started;
    std::uint64_t bytes_in = 0;
};

// The header fields every response carries.
void stamp(http::response& res, std::string_view request_id) {
    res.set(bhttp::field::server, "aignehub");
    res.set(bhttp::field::date, http_date());
    res.set("x-request-id", request_id);
}

// Serialises the status line and header fields of `res` into `out`. Content-Length (or, without
// a length, chunked framing) and Connection come from the arguments, never from the handler, so
// they cannot disagree with what is sent. Writing the head straight from the fields costs a
// fraction of Beast's serializer, which matters on the small answers a gateway sends most.
void serialize_head(const http::response& res, std::optional<std::size_t> content_length,
                    bool keep_alive, std::string& out) {
    out.clear();
    out.append(res.version() == 10 ? "HTTP/1.0 " : "HTTP/1.1 ");
    out.append(std::to_string(res.result_int()));
    out.push_back(' ');
    out.append(std::string_view(bhttp::obsolete_reason(res.result())));
    out.append("\r\n");
    for (const auto& f : res) {
        if (f.name() == bhttp::field::content_length || f.name() == bhttp::field::connection ||
            f.name() == bhttp::field::transfer_encoding) {
            continue;
        }
        out.append(std::string_view(f.name_string()));
        out.append(": ");
        out.append(std::string_view(f.value()));
        out.append("\r\n");
    }
    if (content_length) {
        out.append("Content-Length: ");
        out.append(std::to_string(*content_length));
        out.append("\r\n");
    } else if (res.version() != 10) {
        out.append("Transfer-Encoding: chunked\r\n");
    }
    if (!keep_alive && res.version() != 10) {
        out.append("Connection: close\r\n");
    } else if (keep_alive && res.version() == 10) {
        out.append("Connection: keep-alive\r\n");
    }
    out.append("\r\n");
}

// Takes the method, target and request id from a parsed header.
void note_header(exchange& ex, const http::request& head) {
    ex.method = std::string(head.method_string());
    ex.target = std::string(head.target());
    const std::string_view incoming = head["x-request-id"];
    ex.request_id =
        http::valid_request_id(incoming) ? std::string(incoming) : http::new_request_id();
}

// How a failed read of a request is handled.
struct read_failure {
    enum class action { answer, timed_out, gone } what;
    http::error_kind kind = http::error_kind::bad_request;
};

read_failure classify(const beast::error_code& ec) {
    using action = read_failure::action;
    if (ec == bhttp::error::header_limit) {
        return {action::answer, http::error_kind::header_too_large};
    }
    if (ec == bhttp::error::body_limit) {
        return {action::answer, http::error_kind::payload_too_large};
    }
    if (ec == beast::error::timeout) {
        return {action::timed_out};
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
        ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
        return {action::gone};
    }
    return {action::answer, http::error_kind::bad_request};
}

std::string endpoint_text(const tcp::socket& socket) {
    beast::error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    return ec ? std::string("-") : ep.address().to_string();
}

unsigned resolve_threads(unsigned requested) {
    if (requested != 0) {
        return requested;
    }
    const unsigned cores = std::thread::hardware_concurrency();
    return cores == 0 ? 1 : cores;
}

} // namespace

void server_config::validate() const {
    using namespace std::chrono_literals;
    if (host.empty()) {
        throw config_error("host: must not be empty");
    }
    if (threads > 1024) {
        throw config_error("threads: must be between 0 (one per core) and 1024");
    }
    if (max_header_bytes < 1024 || max_header_bytes > 1024 * 1024) {
        throw config_error("max_header_bytes: must be between 1 KiB and 1 MiB");
    }
    if (max_body_bytes < 1024) {
        throw config_error("max_body_bytes: must be at least 1 KiB");
    }
    const auto positive = [](std::chrono::milliseconds value, const char* name) {
        if (value <= 0ms || value > 24h) {
            throw config_error(std::string(name) + ": must be more than 0 and at most a day");
        }
    };
    positive(header_timeout, "header_timeout");
    positive(body_timeout, "body_timeout");
    positive(idle_timeout, "idle_timeout");
    positive(write_timeout, "write_timeout");
    if (shutdown_grace < 0ms || shutdown_grace > 1h) {
        throw config_error("shutdown_grace: must be between 0 and an hour");
    }
    if (max_connections == 0) {
        throw config_error("max_connections: must be at least 1");
    }
    if (usage_sync != "full" && usage_sync != "normal") {
        throw config_error("usage_sync: must be 'full' or 'normal'");
    }
    positive(upstream_connect_timeout, "upstream_connect_timeout");
    positive(upstream_first_byte_timeout, "upstream_first_byte_timeout");
    positive(upstream_gap_timeout, "upstream_gap_timeout");
    positive(upstream_timeout, "upstream_timeout");
}

struct server::impl {
    impl(server_config config, server_services services)
        : cfg(std::move(config)), log(cfg.access_log), keys(services.keys),
          routing(services.routes), db(services.db), threads_wanted(resolve_threads(cfg.threads)),
          ioc(static_cast<int>(threads_wanted)), acceptor(asio::make_strand(ioc)),
          work(ioc.get_executor()) {
        http::add_health_routes(routes, services.db);
        if (services.providers && services.users && services.keys && services.routes &&
            services.secrets) {
            providers = services.providers;
            frontdoor::add_openai_routes(routes, services.routes);
            frontdoor::add_aigne_routes(routes, services.routes);
            gateway = std::make_shared<gateway::services>();
            gateway->routes = services.routes;
            gateway->secrets = services.secrets;
            const bool fsync = cfg.usage_sync == "full";
            gateway->usage = std::make_shared<billing::usage_writer>(
                services.db, fsync, 1024,
                services.data_dir.empty() ? std::nullopt : std::optional(services.data_dir));
            gateway->pool = std::make_shared<upstream::pool>();
            gateway->limits.connect = cfg.upstream_connect_timeout;
            gateway->limits.first_byte = cfg.upstream_first_byte_timeout;
            gateway->limits.gap = cfg.upstream_gap_timeout;
            gateway->limits.total = cfg.upstream_timeout;
            gateway::add_routes(routes, gateway, &log);
            admin::add_routes(routes, std::move(services.providers), std::move(services.users),
                              services.db);
        }
    }

    void listen();
    void start_threads();
    void stop();

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(std::shared_ptr<connection> conn);
    asio::awaitable<void> handle(const http::request& req, http::response& res,
                                 http::responder& out);
    /// Fills `ctx.who` for a route that needs a key, or answers 401, 403 or 429 and returns
    /// false. The snapshot that holds the principal stays in `held`.
    bool admit(const http::request& req, http::response& res, http::access needed,
               http::route_context& ctx, std::shared_ptr<const auth::key_snapshot>& held);
    asio::awaitable<void> flush_key_use();
    /// Re-tests the credentials a provider refused (401/403 on a call) whose re-test is due; a
    /// key the provider accepts again goes back into rotation. Runs on the control-plane pool.
    void retest_refused_credentials();
    asio::awaitable<beast::error_code>
    read_request(connection& conn, beast::flat_buffer& buffer,
                 bhttp::request_parser<bhttp::string_body>& parser, exchange& ex);
    asio::awaitable<beast::error_code> write_response(connection& conn, const http::response& res,
                                                      std::size_t content_length, bool keep_alive,
                                                      bool with_body);
    asio::awaitable<void> fail(connection& conn, beast::flat_buffer& buffer, exchange& ex,
                               const beast::error_code& ec);
    asio::awaitable<void> answer_error_and_close(connection& conn, beast::flat_buffer& buffer,
                                                 const exchange& ex, http::error_kind kind,
                                                 std::string_view message);
    void refuse(tcp::socket& socket);
    void log_access(const exchange& ex, unsigned status, std::uint64_t bytes_out) {
        if (log.enabled()) {
            log.write(
                http::access_line({std::chrono::system_clock::now(), ex.method, ex.target, status,
                                   std::chrono::duration_cast<std::chrono::microseconds>(
                                       steady_clock::now() - ex.started),
                                   ex.bytes_in, bytes_out, ex.request_id, ex.remote}));
        }
    }
    void forget(connection* conn) {
        {
            const std::lock_guard lock(conns_mu);
            conns.erase(conn);
        }
        conns_changed.notify_all();
    }
    // Runs `fn(connection&)` on each open connection's strand.
    template <class Fn> void for_each_connection(Fn fn) {
        const std::lock_guard lock(conns_mu);
        for (auto& [ptr, weak] : conns) {
            if (auto conn = weak.lock()) {
                asio::post(conn->stream.get_executor(), [conn, fn] { fn(*conn); });
            }
        }
    }
    bool wait_for_connections_until(steady_clock::time_point deadline) {
        std::unique_lock lock(conns_mu);
        return conns_changed.wait_until(lock, deadline, [this] { return conns.empty(); });
    }

    // Declared before the io_context: destroying it destroys unfinished sessions, whose exit
    // guards still reach the connection registry and the log.
    server_config cfg;
    detail::log_sink log;
    std::shared_ptr<auth::authenticator> keys;
    std::shared_ptr<routing::routes> routing;
    std::shared_ptr<store> db;
    std::shared_ptr<provider_service> providers;
    // The data path's state; its pool's connections are closed in stop(), before the I/O
    // context goes away.
    std::shared_ptr<gateway::services> gateway;
    http::router routes;
    mutable std::mutex conns_mu;
    std::condition_variable conns_changed;
    std::unordered_map<connection*, std::weak_ptr<connection>> conns;
    std::mutex stop_mu;
    std::atomic<bool> stopping{false};
    std::promise<void> accept_ended; // set when accept_loop() has returned
    std::atomic<bool> running{false};

    unsigned threads_wanted;
    asio::io_context ioc;
    tcp::acceptor acceptor;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    std::vector<std::thread> threads;
    std::uint16_t bound_port = 0;
    // Blocking handlers (database writes, calls to providers) run here, off the I/O threads.
    // Declared after the io_context so that it is joined first: its tasks refer to sessions.
    asio::thread_pool control{2};
    // Last-used times of access keys are written from here, off the request path.
    asio::steady_timer flush_timer{asio::make_strand(control)};
};

void server::impl::listen() {
    beast::error_code ec;
    auto address = asio::ip::make_address(cfg.host, ec);
    if (ec) {
        tcp::resolver resolver(ioc);
        const auto results = resolver.resolve(cfg.host, "", ec);
        if (ec || results.empty()) {
            throw config_error("host: cannot resolve '" + cfg.host + "'");
        }
        address = results.begin()->endpoint().address();
    }
    const tcp::endpoint endpoint(address, cfg.port);
    const std::string where = cfg.host + ":" + std::to_string(cfg.port);
    acceptor.open(endpoint.protocol(), ec);
    if (ec) {
        throw bind_error("cannot open a socket for " + where, ec);
    }
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    acceptor.bind(endpoint, ec);
    if (ec) {
        throw bind_error("cannot bind " + where, ec);
    }
    acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw bind_error("cannot listen on " + where, ec);
    }
    bound_port = acceptor.local_endpoint().port();
}

void server::impl::start_threads() {
    running = true;
    asio::co_spawn(acceptor.get_executor(), accept_loop(), [this](const std::exception_ptr& e) {
        if (e && log.enabled()) {
            log.write(detail::event_line("error", "accept loop ended unexpectedly"));
        }
        accept_ended.set_value();
    });
    if (keys) {
        asio::co_spawn(flush_timer.get_executor(), flush_key_use(), asio::detached);
    }
    threads.reserve(threads_wanted);
    for (unsigned i = 0; i < threads_wanted; ++i) {
        threads.emplace_back([this] { ioc.run(); });
    }
    if (log.enabled()) {
        std::string extra = R"(,"host":)";
        detail::append_json_string(extra, cfg.host);
        extra.append(R"(,"port":)" + std::to_string(bound_port) + R"(,"threads":)" +
                     std::to_string(threads_wanted));
        log.write(detail::event_line("info", "listening", extra));
    }
}

asio::awaitable<void> server::impl::accept_loop() {
    asio::steady_timer backoff(acceptor.get_executor());
    for (;;) {
        auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(ioc), use_tuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
                co_return;
            }
            // Out of descriptors or memory: wait a little instead of spinning on the error.
            backoff.expires_after(std::chrono::milliseconds(20));
            co_await backoff.async_wait(use_tuple);
            continue;
        }
        if (stopping) {
            continue; // the socket closes as it goes out of scope
        }
        beast::error_code ignored;
        socket.set_option(tcp::no_delay(true), ignored);
        auto conn = std::make_shared<connection>(std::move(socket));
        bool over_capacity = false;
        {
            const std::lock_guard lock(conns_mu);
            over_capacity = conns.size() >= cfg.max_connections;
            if (!over_capacity) {
                conns.emplace(conn.get(), conn);
            }
        }
        if (over_capacity) {
            refuse(conn->stream.socket());
            continue;
        }
        auto executor = conn->stream.get_executor();
        asio::co_spawn(executor, session(std::move(conn)), [this](const std::exception_ptr& e) {
            if (e && log.enabled()) {
                log.write(detail::event_line("error", "a connection ended on an exception"));
            }
        });
    }
}

// A fresh socket's send buffer takes this small answer at once, so writing it synchronously
// does not hold up the accept loop.
void server::impl::refuse(tcp::socket& socket) {
    exchange ex;
    ex.request_id = http::new_request_id();
    ex.remote = endpoint_text(socket);
    ex.started = steady_clock::now();
    http::response res{bhttp::status::service_unavailable, 11};
    stamp(res, ex.request_id);
    http::make_error(res, http::error_kind::too_many_connections,
                     "the server has too many open connections; retry later");
    std::string head;
    serialize_head(res, res.body().size(), false, head);
    beast::error_code ignored;
    asio::write(socket,
                std::array<asio::const_buffer, 2>{asio::buffer(head), asio::buffer(res.body())},
                ignored);
    log_access(ex, res.result_int(), res.body().size());
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
}

asio::awaitable<void> server::impl::fail(connection& conn, beast::flat_buffer& buffer, exchange& ex,
                                         const beast::error_code& ec) {
    if (ex.request_id.empty()) {
        ex.request_id = http::new_request_id();
    }
    const read_failure failure = classify(ec);
    switch (failure.what) {
    case read_failure::action::gone:
        break;
    case read_failure::action::timed_out:
        // Beast has closed the stream already: record the cut-off, nothing can be answered.
        log_access(ex, 408, 0);
        break;
    case read_failure::action::answer:
        std::string message;
        if (failure.kind == http::error_kind::header_too_large) {
            message = "the request header is larger than " + std::to_string(cfg.max_header_bytes) +
                      " bytes";
        } else if (failure.kind == http::error_kind::payload_too_large) {
            message =
                "the request body is larger than " + std::to_string(cfg.max_body_bytes) + " bytes";
        } else {
            message = "malformed HTTP request: " + ec.message();
        }
        co_await answer_error_and_close(conn, buffer, ex, failure.kind, message);
        break;
    }
}

asio::awaitable<void> server::impl::answer_error_and_close(connection& conn,
                                                           beast::flat_buffer& buffer,
                                                           const exchange& ex,
                                                           http::error_kind kind,
                                                           std::string_view message) {
    auto& stream = conn.stream;
    http::response res{http::status_of(kind), 11};
    stamp(res, ex.request_id);
    http::make_error(res, kind, message);
    const beast::error_code ec = co_await write_response(conn, res, res.body().size(), false, true);
    log_access(ex, res.result_int(), res.body().size());
    if (ec) {
        co_return;
    }
    // Lingering close: stop sending, then read and discard what the client still sends for a
    // short while, so that closing with unread data does not reset the connection before the
    // client has read the answer.
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(linger_time);
    std::size_t drained = 0;
    while (drained < linger_bytes) {
        buffer.clear();
        auto [rec, n] = co_await stream.async_read_some(buffer.prepare(64 * 1024), use_tuple);
        if (rec) {
            break;
        }
        drained += n;
    }
}

asio::awaitable<beast::error_code>
server::impl::read_request(connection& conn, beast::flat_buffer& buffer,
                           bhttp::request_parser<bhttp::string_body>& parser, exchange& ex) {
    auto& stream = conn.stream;
    bool header_done = false;
    for (;;) {
        std::size_t used = 0;
        if (buffer.size() != 0) {
            beast::error_code ec;
            used = parser.put(buffer.data(), ec);
            buffer.consume(used);
            if (ec && ec != bhttp::error::need_more) {
                co_return ec;
            }
        }
        if (!header_done && parser.is_header_done()) {
            header_done = true;
            note_header(ex, parser.get());
            if (!parser.is_done()) {
                if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue") &&
                    buffer.size() == 0) {
                    static constexpr std::string_view proceed = "HTTP/1.1 100 Continue\r\n\r\n";
                    stream.expires_after(cfg.write_timeout);
                    auto [wec, written] =
                        co_await asio::async_write(stream, asio::buffer(proceed), use_tuple);
                    if (wec) {
                        co_return wec;
                    }
                }
                stream.expires_after(cfg.body_timeout);
            }
        }
        if (parser.is_done()) {
            co_return beast::error_code{};
        }
        if (used != 0 && buffer.size() != 0) {
            continue; // progress, and more buffered to parse
        }
        const std::size_t want = header_done ? body_read_size : header_read_size;
        auto [ec, n] = co_await stream.async_read_some(buffer.prepare(want), use_tuple);
        if (ec == asio::error::eof) {
            if (!parser.got_some()) {
                co_return bhttp::error::end_of_stream;
            }
            beast::error_code eof_ec;
            parser.put_eof(eof_ec);
            co_return eof_ec   ? eof_ec
            : parser.is_done() ? beast::error_code{}
                               : bhttp::error::partial_message;
        }
        if (ec) {
            co_return ec;
        }
        buffer.commit(n);
    }
}

asio::awaitable<beast::error_code> server::impl::write_response(connection& conn,
                                                                const http::response& res,
                                                                std::size_t content_length,
                                                                bool keep_alive, bool with_body) {
    serialize_head(res, content_length, keep_alive, conn.head);
    const std::array<asio::const_buffer, 2> buffers{
        asio::buffer(conn.head), with_body ? asio::buffer(res.body()) : asio::const_buffer{}};
    conn.stream.expires_after(cfg.write_timeout);
    auto [ec, written] = co_await asio::async_write(conn.stream, buffers, use_tuple);
    co_return ec;
}

namespace {

// Where a caller put its key. Keys in the query string are refused outright: URLs end up in
// logs, proxies and browser histories.
struct presented_key {
    std::string_view key;
    std::string_view problem; // non-empty: refuse with this message
};

presented_key presented(const http::request& req) {
    const std::string_view target = req.target();
    if (const auto q = target.find('?'); q != std::string_view::npos) {
        const std::string_view query = target.substr(q);
        for (const std::string_view name : {"key=", "api_key=", "access_token=", "token="}) {
            for (const char lead : {'?', '&'}) {
                if (query.find(std::string(1, lead) + std::string(name)) !=
                    std::string_view::npos) {
                    return {{},
                            "access keys are not accepted in the query string; send "
                            "Authorization: Bearer <key>"};
                }
            }
        }
    }
    std::string_view bearer;
    if (const auto header = req.find(bhttp::field::authorization); header != req.end()) {
        const std::string_view value = header->value();
        if (value.size() < 7 || !beast::iequals(value.substr(0, 7), "bearer ")) {
            return {{}, "the Authorization header must be 'Bearer <key>'"};
        }
        bearer = value.substr(7);
        while (!bearer.empty() && bearer.front() == ' ') {
            bearer.remove_prefix(1);
        }
    }
    const std::string_view api_key = req["x-api-key"];
    if (!bearer.empty() && !api_key.empty() && bearer != api_key) {
        return {{}, "Authorization and x-api-key carry different keys"};
    }
    return {bearer.empty() ? api_key : bearer, {}};
}

void refuse_key(http::response& res, std::string_view message, std::string_view code) {
    http::make_error(res, http::error_kind::unauthorized, message, {}, code);
    res.set(bhttp::field::www_authenticate, "Bearer realm=\"aignehub\"");
}

void refuse_rate(http::response& res, std::chrono::seconds wait, std::string_view what) {
    http::make_error(res, http::error_kind::rate_limited,
                     "this key is over its " + std::string(what) + " limit; retry in " +
                         std::to_string(wait.count()) + " s");
    res.set(bhttp::field::retry_after, std::to_string(wait.count()));
}

} // namespace

bool server::impl::admit(const http::request& req, http::response& res, http::access needed,
                         http::route_context& ctx,
                         std::shared_ptr<const auth::key_snapshot>& held) {
    if (!keys) {
        refuse_key(res, "this server has no access keys", "invalid_api_key");
        return false;
    }
    const presented_key offered = presented(req);
    if (!offered.problem.empty()) {
        refuse_key(res, offered.problem, "invalid_api_key");
        return false;
    }
    const auto now = auth::clock::now();
    auto checked = keys->verify(offered.key, now);
    switch (checked.what) {
    case auth::verdict::ok:
        break;
    case auth::verdict::missing:
        refuse_key(res, "no access key: send Authorization: Bearer <key> or x-api-key",
                   "missing_api_key");
        return false;
    case auth::verdict::malformed:
        refuse_key(res, "the access key is malformed", "invalid_api_key");
        return false;
    case auth::verdict::unknown:
        refuse_key(res, "the access key is not valid, or was revoked", "invalid_api_key");
        return false;
    case auth::verdict::expired:
        refuse_key(res, "the access key has expired", "expired_api_key");
        return false;
    }
    const auth::principal& who = *checked.who;
    if (needed == http::access::manager && who.role != "owner" && who.role != "admin") {
        http::make_error(res, http::error_kind::forbidden,
                         "this needs the key of an owner or admin");
        return false;
    }
    if (who.rpm) {
        if (const auto wait = who.runtime->take_request(*who.rpm, now)) {
            refuse_rate(res, *wait, "requests-per-minute");
            return false;
        }
    }
    if (who.tpm) {
        if (const auto wait = who.runtime->token_wait(*who.tpm, now)) {
            refuse_rate(res, *wait, "tokens-per-minute");
            return false;
        }
    }
    ctx.who = &who;
    held = std::move(checked.snapshot);
    return true;
}

asio::awaitable<void> server::impl::handle(const http::request& req, http::response& res,
                                           http::responder& out) {
    auto matched = routes.find(req, res);
    if (!matched) {
        co_return;
    }
    const http::router::route& route = *matched->target;
    http::route_context ctx{std::move(matched->params)};
    std::shared_ptr<const auth::key_snapshot> held;
    const auto reshape = [&route, &res] {
        if (route.options.reshape_error != nullptr && res.result_int() >= 400) {
            route.options.reshape_error(res);
        }
    };
    if (route.options.who != http::access::open && !admit(req, res, route.options.who, ctx, held)) {
        reshape();
        co_return;
    }
    if (route.async_fn) {
        co_await route.async_fn(req, res, ctx, out);
        reshape();
        co_return;
    }
    if (!route.options.blocking) {
        route.fn(req, res, ctx);
        co_return;
    }
    co_await asio::co_spawn(
        control,
        [&]() -> asio::awaitable<void> {
            route.fn(req, res, ctx);
            co_return;
        },
        asio::use_awaitable);
}

void server::impl::retest_refused_credentials() {
    if (!providers || !routing) {
        return;
    }
    const auto snapshot = routing->current();
    for (const auto& [name, entry] : snapshot->by_name) {
        for (const std::int64_t id : entry->balancer->due_for_retest(steady_clock::now())) {
            bool accepted = false;
            try {
                const auto result = providers->test_credential(name, id);
                const std::string status = result.value("status", "");
                accepted = status == "connected" || status == "rate_limited";
            } catch (const std::exception&) {
                // Removed meanwhile, or the test failed: count it as refused again.
            }
            if (accepted) {
                entry->balancer->succeeded(id);
            } else {
                entry->balancer->rejected(id, steady_clock::now());
            }
            if (log.enabled()) {
                log.write(detail::event_line(
                    "info", "credential re-tested",
                    R"(,"provider":)" +
                        [&] {
                            std::string quoted;
                            detail::append_json_string(quoted, name);
                            return quoted;
                        }() +
                        R"(,"credential_id":)" + std::to_string(id) + R"(,"accepted":)" +
                        (accepted ? "true" : "false")));
            }
        }
    }
}

asio::awaitable<void> server::impl::flush_key_use() {
    // Every second: pick up configuration changes another process made in the same database
    // (the CLI next to this server); every fifth: write last-used times.
    const auto version_of = [this](const char* setting) { return db->get_setting(setting, "0"); };
    std::string seen_keys = version_of(user_service::auth_version_setting);
    std::string seen_config = version_of(provider_service::config_version_setting);
    for (unsigned tick = 1;; ++tick) {
        flush_timer.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await flush_timer.async_wait(use_tuple);
        try {
            if (auto now = version_of(user_service::auth_version_setting); now != seen_keys) {
                keys->rebuild(*db);
                seen_keys = std::move(now);
            }
            if (auto now = version_of(provider_service::config_version_setting);
                now != seen_config) {
                routing->rebuild(*db);
                seen_config = std::move(now);
            }
            if (ec || stopping || tick % 5 == 0) {
                keys->flush_last_used(*db);
            }
            if (!ec && !stopping) {
                retest_refused_credentials();
            }
        } catch (const std::exception&) {
            // The next round retries; a failed read or write here costs freshness only.
        }
        if (ec || stopping) {
            co_return;
        }
    }
}

namespace {

// The responder of one request: writes a streamed answer straight to the connection, and
// watches the socket for the client going away while the handler waits.
class session_responder final : public http::responder {
public:
    session_responder(connection& conn, const exchange& ex, bool keep_alive,
                      std::chrono::milliseconds write_timeout)
        : conn_(conn), ex_(ex), keep_alive_(keep_alive), write_timeout_(write_timeout) {}

    // The head waits for the first chunk (or the end) so that both leave in one write: a
    // stream costs the client's side one wake-up fewer.
    asio::awaitable<bool> start_chunked(const http::response& head) override {
        chunked_ = head.version() != 10; // HTTP/1.0 has no chunks: the close ends the body
        if (!chunked_) {
            keep_alive_ = false;
        }
        status_ = head.result_int();
        streamed_ = true;
        serialize_head(head, std::nullopt, keep_alive_, conn_.head);
        head_pending_ = true;
        co_return !broken_;
    }

    asio::awaitable<bool> write_chunk(std::string_view data) override {
        if (data.empty() && !head_pending_) {
            co_return !broken_;
        }
        chunk_frame frame(data, chunked_);
        co_return co_await send(frame.buffers(data, {}));
    }

    asio::awaitable<bool> finish_chunked(std::string_view last) override {
        static constexpr std::string_view terminator = "0\r\n\r\n";
        chunk_frame frame(last, chunked_);
        co_return co_await send(frame.buffers(last, chunked_ ? terminator : std::string_view{}));
    }

    asio::awaitable<bool> client_gone() override {
        // Wait for readability rather than read: no speculative read (a wasted syscall: the
        // request was just read whole), and a pipelined request stays in the socket for the
        // session. Readable then means the peer closed or reset, or sent more.
        auto& socket = conn_.stream.socket();
        auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, use_tuple);
        if (ec) {
            co_return ec != asio::error::operation_aborted;
        }
        char byte = 0;
        const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            co_return true;
        }
        // A pipelined request: stop watching (it waits in the socket) until cancelled.
        asio::steady_timer forever(socket.get_executor(), steady_clock::time_point::max());
        co_await forever.async_wait(use_tuple);
        co_return false;
    }

    [[nodiscard]] steady_clock::time_point started() const override { return ex_.started; }

    [[nodiscard]] bool streamed() const noexcept { return streamed_; }
    [[nodiscard]] bool broken() const noexcept { return broken_; }
    [[nodiscard]] bool keep_alive() const noexcept { return keep_alive_; }
    [[nodiscard]] unsigned status() const noexcept { return status_; }
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }

private:
    // One chunk's framing: hex size and CRLF before the data, CRLF after (none for empty data
    // or an unchunked HTTP/1.0 body).
    class chunk_frame {
    public:
        chunk_frame(std::string_view data, bool chunked) {
            if (chunked && !data.empty()) {
                const auto [end, ec] =
                    std::to_chars(size_.data(), size_.data() + size_.size() - 2, data.size(), 16);
                char* tail = end;
                *tail++ = '\r';
                *tail++ = '\n';
                length_ = static_cast<std::size_t>(tail - size_.data());
                after_ = "\r\n";
            }
        }
        [[nodiscard]] std::array<asio::const_buffer, 4> buffers(std::string_view data,
                                                                std::string_view end) const {
            return {asio::buffer(size_.data(), length_), asio::buffer(data), asio::buffer(after_),
                    asio::buffer(end)};
        }

    private:
        std::array<char, 24> size_{};
        std::size_t length_ = 0;
        std::string_view after_;
    };

    asio::awaitable<bool> send(const std::array<asio::const_buffer, 4>& parts) {
        if (broken_) {
            co_return false;
        }
        const std::array<asio::const_buffer, 5> buffers{head_pending_ ? asio::buffer(conn_.head)
                                                                      : asio::const_buffer{},
                                                        parts[0], parts[1], parts[2], parts[3]};
        head_pending_ = false;
        conn_.stream.expires_after(write_timeout_);
        auto [ec, written] = co_await asio::async_write(conn_.stream, buffers, use_tuple);
        bytes_ += written;
        broken_ = static_cast<bool>(ec);
        co_return !broken_;
    }

    connection& conn_;
    const exchange& ex_;
    bool keep_alive_;
    std::chrono::milliseconds write_timeout_;
    bool chunked_ = true;
    bool head_pending_ = false;
    bool streamed_ = false;
    bool broken_ = false;
    unsigned status_ = 0;
    std::uint64_t bytes_ = 0;
};

} // namespace

asio::awaitable<void> server::impl::session(std::shared_ptr<connection> conn) {
    struct forget_on_exit {
        impl* self;
        connection* conn;
        ~forget_on_exit() { self->forget(conn); }
    } guard{this, conn.get()};

    auto& stream = conn->stream;
    const std::string remote = endpoint_text(stream.socket());
    beast::flat_buffer buffer;
    // A new connection has the header deadline, counted from the accept, to send its first
    // request; a kept-alive one has the idle deadline to start the next, and then the header
    // deadline from that request's first byte.
    stream.expires_after(cfg.header_timeout);
    for (bool first = true;; first = false) {
        if (buffer.size() == 0) {
            if (stopping) {
                break;
            }
            conn->idle = true;
            if (!first) {
                stream.expires_after(cfg.idle_timeout);
            }
            auto [ec, n] =
                co_await stream.async_read_some(buffer.prepare(header_read_size), use_tuple);
            conn->idle = false;
            if (ec) {
                break;
            }
            buffer.commit(n);
        }
        if (!first) {
            stream.expires_after(cfg.header_timeout);
        }
        exchange ex;
        ex.remote = remote;
        ex.started = steady_clock::now();

        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(cfg.max_header_bytes));
        parser.body_limit(cfg.max_body_bytes);
        if (const auto ec = co_await read_request(*conn, buffer, parser, ex)) {
            co_await fail(*conn, buffer, ex, ec);
            break;
        }

        http::request req = parser.release();
        ex.bytes_in = req.body().size();
        http::response res{bhttp::status::ok, req.version()};
        stamp(res, ex.request_id);
        session_responder out(*conn, ex, req.keep_alive() && !stopping, cfg.write_timeout);
        try {
            co_await handle(req, res, out);
        } catch (const std::exception&) {
            if (out.streamed()) {
                log_access(ex, out.status(), out.bytes());
                break; // a half-sent stream cannot be answered again: the close ends it
            }
            res = http::response{bhttp::status::ok, req.version()};
            stamp(res, ex.request_id);
            http::make_error(res, http::error_kind::internal,
                             "the server failed to handle the request");
        }
        if (out.streamed()) {
            log_access(ex, out.status(), out.bytes());
            if (out.broken() || !out.keep_alive() || stopping) {
                break;
            }
            continue;
        }
        const bool keep_alive = req.keep_alive() && !stopping;
        const std::size_t body_size = res.body().size();
        const beast::error_code wec = co_await write_response(*conn, res, body_size, keep_alive,
                                                              req.method() != bhttp::verb::head);
        log_access(ex, res.result_int(), body_size);
        if (wec || !keep_alive) {
            break;
        }
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
}

void server::impl::stop() {
    const std::lock_guard stop_lock(stop_mu);
    if (!running) {
        return;
    }
    if (log.enabled()) {
        log.write(detail::event_line("info", "stopping"));
    }
    stopping = true;

    // Stop accepting. The acceptor belongs to its strand, so it is closed there.
    std::promise<void> closed;
    asio::post(acceptor.get_executor(), [this, &closed] {
        beast::error_code ignored;
        acceptor.close(ignored);
        closed.set_value();
    });
    closed.get_future().wait();
    // A connection accepted just before the close has its completion queued on the acceptor's
    // strand; the loop must run it (and close that socket) before the I/O context stops, or the
    // socket would stay open, unserved, until the server is destroyed.
    accept_ended.get_future().wait_for(std::chrono::seconds(5));

    // Connections waiting for their next request are closed now; the others finish the request
    // they are in (and answer it with Connection: close) within the grace period.
    for_each_connection([](connection& conn) {
        if (conn.idle) {
            conn.stream.cancel();
        }
    });
    const auto deadline = steady_clock::now() + cfg.shutdown_grace;
    if (!wait_for_connections_until(deadline)) {
        for_each_connection([](connection& conn) { conn.stream.close(); });
        wait_for_connections_until(steady_clock::now() + std::chrono::seconds(5));
    }

    if (keys) {
        asio::post(flush_timer.get_executor(), [this] { flush_timer.cancel(); });
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) {
        t.join();
    }
    threads.clear();
    control.join();
    if (gateway) {
        gateway->pool->close_all();
        gateway->usage->stop(); // every answered request's record is in the database
    }
    running = false;
    if (log.enabled()) {
        log.write(detail::event_line("info", "stopped"));
        log.flush();
    }
}

server::server(server_config config, server_services services) {
    config.validate();
    impl_ = std::make_unique<impl>(std::move(config), std::move(services));
    impl_->listen();
    impl_->start_threads();
}

server::~server() {
    stop();
}

std::uint16_t server::port() const noexcept {
    return impl_->bound_port;
}

const std::string& server::host() const noexcept {
    return impl_->cfg.host;
}

bool server::running() const noexcept {
    return impl_->running;
}

std::size_t server::connections() const noexcept {
    const std::lock_guard lock(impl_->conns_mu);
    return impl_->conns.size();
}

void server::stop() {
    impl_->stop();
}

} // namespace aignehub
