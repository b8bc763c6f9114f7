#pragma once

#include "upstream/client.hpp"
#include "upstream/url.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aignehub::upstream {

using clock = std::chrono::steady_clock;

/// What remains until `deadline`, at least a millisecond (an expiry of zero would never fire
/// as a timeout).
[[nodiscard]] std::chrono::milliseconds time_left(clock::time_point deadline);

/// One open connection to a provider, plain or TLS; connected to an address that passed the
/// SSRF checks, its certificate verified for the host name.
class connection {
public:
    connection(std::string origin_key, std::unique_ptr<boost::beast::tcp_stream> plain,
               std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls);

    [[nodiscard]] boost::beast::tcp_stream& lowest() noexcept;
    [[nodiscard]] const std::string& origin_key() const noexcept { return origin_key_; }
    [[nodiscard]] bool is_tls() const noexcept { return tls_ != nullptr; }
    boost::beast::ssl_stream<boost::beast::tcp_stream>& tls() noexcept { return *tls_; }
    boost::beast::tcp_stream& plain() noexcept { return *plain_; }

    boost::beast::flat_buffer buffer; ///< bytes read past the last response (none when reused)
    clock::time_point idle_since{};
    std::uint64_t uses = 0;

private:
    std::string origin_key_;
    std::unique_ptr<boost::beast::tcp_stream> plain_;
    std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
};

/// Opens a connection: resolves, drops addresses the provider may not reach, connects to a
/// checked address, and for https verifies the certificate with SNI and host-name checks.
[[nodiscard]] boost::asio::awaitable<std::unique_ptr<connection>>
open_connection(const url& origin, bool local, clock::time_point deadline,
                std::chrono::milliseconds connect_timeout, fetch_error& error,
                std::string& message);

/// Keep-alive connections per origin (scheme, host, port and whether the provider is local).
/// Idle connections are kept up to `max_idle_per_origin` for `idle_timeout`; connections open
/// at once per origin are capped at `max_per_origin`. Thread-safe.
class pool {
public:
    struct limits {
        std::size_t max_idle_per_origin = 256;
        std::size_t max_per_origin = 4096;
        std::chrono::milliseconds idle_timeout{30'000};
    };
    pool() : pool(limits{}) {}
    explicit pool(limits l) : limits_(l) {}

    [[nodiscard]] static std::string key_of(const url& origin, bool local);

    /// An idle connection to reuse, or null.
    [[nodiscard]] std::unique_ptr<connection> take(const std::string& key, clock::time_point now);
    /// Counts a new connection against the origin's cap; false when the cap is reached.
    [[nodiscard]] bool admit(const std::string& key);
    /// A connection is closed (not returned).
    void closed(const std::string& key);
    /// Returns a connection whose last exchange ended cleanly and that may be reused.
    void put_back(std::unique_ptr<connection> conn, clock::time_point now);

    /// Closes every idle connection (at server stop, before the I/O context goes away).
    void close_all();

    struct stats {
        std::uint64_t opened = 0;
        std::uint64_t reused = 0;
    };
    [[nodiscard]] stats counters() const noexcept { return {opened_.load(), reused_.load()}; }

private:
    struct origin_state {
        std::vector<std::unique_ptr<connection>> idle; ///< most recently used last
        std::size_t open = 0;                          ///< idle and busy
    };
    limits limits_;
    std::mutex mu_;
    std::unordered_map<std::string, origin_state> origins_;
    std::atomic<std::uint64_t> opened_{0};
    std::atomic<std::uint64_t> reused_{0};
};

/// How long one upstream call may take, by phase.
struct call_limits {
    std::chrono::milliseconds connect{10'000};
    /// From the request sent to the first byte of the answer (models think before answering).
    std::chrono::milliseconds first_byte{300'000};
    /// Between two pieces of a streamed body.
    std::chrono::milliseconds gap{120'000};
    /// The whole call.
    std::chrono::milliseconds total{900'000};
    /// Largest body read whole (non-streamed answers, error bodies).
    std::size_t max_body = 32 * 1024 * 1024;
};

/// Why an upstream call failed on the network side.
enum class call_error {
    none,
    resolve,
    address_refused,
    connect,
    tls,
    reset,     ///< the connection closed or reset before the answer was complete
    timeout,   ///< a phase deadline passed
    protocol,  ///< the peer did not speak HTTP/1.1
    too_large, ///< a body read whole crossed call_limits::max_body
    cancelled, ///< the caller cancelled (its client went away)
    busy,      ///< the origin's connection cap is reached
};

[[nodiscard]] std::string_view describe(call_error e) noexcept;

/// One HTTP exchange with a provider over a pooled connection: send() writes the request and
/// reads the response head; read() hands over the body as it arrives; a call whose body was
/// read to the end returns its connection to the pool when destroyed, any other closes it.
/// Runs on the caller's executor; one coroutine at a time.
class call {
public:
    call(pool& connections, url origin, bool local, call_limits limits);
    ~call();
    call(const call&) = delete;
    call& operator=(const call&) = delete;
    call(call&&) = delete;
    call& operator=(call&&) = delete;

    /// Sends `head` (request line and fields, ending with the blank line) and `body`, then reads
    /// the response head. A reused connection that turns out to be closed by the peer before any
    /// answer byte is replaced by a fresh one once, transparently.
    [[nodiscard]] boost::asio::awaitable<call_error> send(std::string head, std::string body);

    [[nodiscard]] unsigned status() const;
    [[nodiscard]] std::string_view header(std::string_view name) const;
    /// Time from send() to the first byte of the answer.
    [[nodiscard]] std::chrono::microseconds time_to_first_byte() const noexcept { return ttfb_; }

    /// Appends the next piece of the body to `out` as soon as some arrived; `finished()` tells
    /// when the body is complete. The gap deadline applies to each piece.
    [[nodiscard]] boost::asio::awaitable<call_error> read_some(std::string& out);
    /// Reads the whole remaining body into `out` (at most call_limits::max_body).
    [[nodiscard]] boost::asio::awaitable<call_error> read_all(std::string& out);
    [[nodiscard]] bool finished() const noexcept { return finished_; }
    /// True when more bytes have already arrived in the socket, so that read_some would not
    /// wait (read_some itself takes everything already buffered).
    [[nodiscard]] bool ready() const noexcept;

    /// Closes the connection at once; pending operations complete with `cancelled`.
    void abort() noexcept;

private:
    boost::asio::awaitable<call_error> attempt(const std::string& head, const std::string& body,
                                               bool& retry_fresh);
    call_error classify(const boost::system::error_code& ec, bool before_answer) const;
    bool take_buffered(std::string& out);

    pool& pool_;
    url origin_;
    bool local_;
    call_limits limits_;
    std::string key_;
    clock::time_point started_{};
    clock::time_point deadline_{};
    std::chrono::microseconds ttfb_{0};
    std::unique_ptr<connection> conn_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
    std::vector<char> piece_;
    bool finished_ = false;
    bool aborted_ = false;
};

} // namespace aignehub::upstream
