#include "upstream/pool.hpp"

#include "core/wipe.hpp"
#include "upstream/address.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>

#include <sys/socket.h>

#include <array>

namespace aignehub::upstream {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t piece_size = 16 * 1024;

ssl::context& tls_context() {
    static ssl::context context = [] {
        ssl::context c(ssl::context::tls_client);
        c.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
        c.set_default_verify_paths();
        c.set_verify_mode(ssl::verify_peer);
        return c;
    }();
    return context;
}

std::chrono::milliseconds phase(std::chrono::milliseconds limit, clock::time_point deadline) {
    return std::min(limit, time_left(deadline));
}

// True when an idle kept-alive socket is still usable: the peer has neither closed it nor sent
// anything unasked (both mean the next request would fail or be misread).
bool still_open(tcp::socket& socket) {
    char byte = 0;
    const auto got = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

template <class Stream>
asio::awaitable<beast::error_code> write_request(Stream& stream, const std::string& head,
                                                 const std::string& body) {
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body)};
    auto [ec, n] = co_await asio::async_write(stream, buffers, use_tuple);
    co_return ec;
}

template <class Stream>
asio::awaitable<beast::error_code> read_head(Stream& stream, beast::flat_buffer& buffer,
                                             bhttp::response_parser<bhttp::buffer_body>& parser) {
    auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, use_tuple);
    co_return ec;
}

template <class Stream>
asio::awaitable<beast::error_code>
read_body_some(Stream& stream, beast::flat_buffer& buffer,
               bhttp::response_parser<bhttp::buffer_body>& parser) {
    auto [ec, n] = co_await bhttp::async_read_some(stream, buffer, parser, use_tuple);
    co_return ec == bhttp::error::need_buffer ? beast::error_code{} : ec;
}

} // namespace

std::chrono::milliseconds time_left(clock::time_point deadline) {
    const auto rest =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return rest.count() > 0 ? rest : std::chrono::milliseconds(1);
}

connection::connection(std::string origin_key, std::unique_ptr<beast::tcp_stream> plain,
                       std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls)
    : origin_key_(std::move(origin_key)), plain_(std::move(plain)), tls_(std::move(tls)) {}

beast::tcp_stream& connection::lowest() noexcept {
    return tls_ ? beast::get_lowest_layer(*tls_) : *plain_;
}

asio::awaitable<std::unique_ptr<connection>>
open_connection(const url& origin, bool local, clock::time_point deadline,
                std::chrono::milliseconds connect_timeout, fetch_error& error,
                std::string& message) {
    auto executor = co_await asio::this_coro::executor;
    const auto fail = [&](fetch_error e, std::string why) {
        error = e;
        message = std::move(why);
        return std::unique_ptr<connection>();
    };
    if (origin.scheme == "http" && !local) {
        co_return fail(fetch_error::address_refused,
                       "plain http is allowed only for providers marked local");
    }
    tcp::resolver resolver(executor);
    auto [rec, results] =
        co_await resolver.async_resolve(origin.host, std::to_string(origin.port), use_tuple);
    if (rec) {
        co_return fail(rec == asio::error::operation_aborted ? fetch_error::timeout
                                                             : fetch_error::resolve,
                       "cannot resolve " + origin.host);
    }
    std::vector<tcp::endpoint> allowed;
    std::optional<address_class> refused;
    for (const auto& entry : results) {
        const auto address = entry.endpoint().address();
        if (may_connect(address, local)) {
            allowed.push_back(entry.endpoint());
        } else {
            refused = classify(address);
        }
    }
    if (allowed.empty()) {
        co_return fail(fetch_error::address_refused,
                       origin.host + " resolves to " +
                           std::string(describe(refused.value_or(address_class::reserved))) +
                           ", which only providers marked local may reach");
    }

    auto stream = std::make_unique<beast::tcp_stream>(executor);
    stream->expires_after(phase(connect_timeout, deadline));
    auto [cec, endpoint] = co_await stream->async_connect(allowed, use_tuple);
    if (cec) {
        co_return fail(cec == beast::error::timeout ? fetch_error::timeout : fetch_error::connect,
                       "cannot connect to " + origin.host_header() + ": " + cec.message());
    }
    beast::error_code ignored;
    stream->socket().set_option(tcp::no_delay(true), ignored);
    const std::string key = pool::key_of(origin, local);
    if (origin.scheme == "http") {
        co_return std::make_unique<connection>(key, std::move(stream), nullptr);
    }
    auto tls =
        std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(*stream), tls_context());
    if (!origin.ipv6_literal &&
        ::SSL_set_tlsext_host_name(tls->native_handle(), origin.host.c_str()) != 1) {
        co_return fail(fetch_error::tls, "cannot set the TLS server name");
    }
    tls->set_verify_callback(ssl::host_name_verification(origin.host));
    beast::get_lowest_layer(*tls).expires_after(phase(connect_timeout, deadline));
    auto [hec] = co_await tls->async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
        co_return fail(hec == beast::error::timeout ? fetch_error::timeout : fetch_error::tls,
                       "TLS handshake with " + origin.host + " failed: " + hec.message());
    }
    co_return std::make_unique<connection>(key, nullptr, std::move(tls));
}

std::string pool::key_of(const url& origin, bool local) {
    return origin.scheme + "://" + origin.host_header() + (local ? "|local" : "");
}

std::unique_ptr<connection> pool::take(const std::string& key, clock::time_point now) {
    std::vector<std::unique_ptr<connection>> stale;
    std::unique_ptr<connection> found;
    {
        const std::lock_guard lock(mu_);
        auto it = origins_.find(key);
        if (it == origins_.end()) {
            return nullptr;
        }
        auto& idle = it->second.idle;
        while (!idle.empty()) {
            auto conn = std::move(idle.back());
            idle.pop_back();
            // A connection idle for a moment is not worth a syscall to check: the rare one the
            // provider closed meanwhile is replaced transparently (call::attempt).
            const auto idle_for = now - conn->idle_since;
            if (idle_for < limits_.idle_timeout &&
                (idle_for < std::chrono::seconds(1) || still_open(conn->lowest().socket()))) {
                found = std::move(conn);
                break;
            }
            --it->second.open;
            stale.push_back(std::move(conn));
        }
    }
    if (found) {
        reused_.fetch_add(1, std::memory_order_relaxed);
    }
    return found; // `stale` closes outside the lock
}

bool pool::admit(const std::string& key) {
    const std::lock_guard lock(mu_);
    auto& state = origins_[key];
    if (state.open >= limits_.max_per_origin) {
        return false;
    }
    ++state.open;
    opened_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

void pool::closed(const std::string& key) {
    const std::lock_guard lock(mu_);
    if (auto it = origins_.find(key); it != origins_.end() && it->second.open > 0) {
        --it->second.open;
    }
}

void pool::put_back(std::unique_ptr<connection> conn, clock::time_point now) {
    conn->idle_since = now;
    std::unique_ptr<connection> evicted;
    {
        const std::lock_guard lock(mu_);
        auto& state = origins_[conn->origin_key()];
        if (state.idle.size() >= limits_.max_idle_per_origin) {
            // Keep the most recent: the oldest idle connection is the likeliest to be stale.
            evicted = std::move(state.idle.front());
            state.idle.erase(state.idle.begin());
            --state.open;
        }
        state.idle.push_back(std::move(conn));
    }
}

void pool::close_all() {
    std::unordered_map<std::string, origin_state> dropped;
    {
        const std::lock_guard lock(mu_);
        dropped.swap(origins_);
    }
}

std::string_view describe(call_error e) noexcept {
    switch (e) {
    case call_error::none:
        return "no error";
    case call_error::resolve:
        return "the provider's host name does not resolve";
    case call_error::address_refused:
        return "the provider's address may not be reached";
    case call_error::connect:
        return "cannot connect to the provider";
    case call_error::tls:
        return "the TLS handshake with the provider failed";
    case call_error::reset:
        return "the provider closed the connection";
    case call_error::timeout:
        return "the provider did not answer in time";
    case call_error::protocol:
        return "the provider's answer is not valid HTTP";
    case call_error::too_large:
        return "the provider's answer is too large";
    case call_error::cancelled:
        return "the call was cancelled";
    case call_error::busy:
        return "too many connections to the provider are open";
    }
    return "unknown error";
}

call::call(pool& connections, url origin, bool local, call_limits limits)
    : pool_(connections), origin_(std::move(origin)), local_(local), limits_(limits),
      key_(pool::key_of(origin_, local_)) {}

call::~call() {
    if (!conn_) {
        return;
    }
    if (finished_ && !aborted_ && parser_ && parser_->keep_alive() && conn_->buffer.size() == 0) {
        pool_.put_back(std::move(conn_), clock::now());
        return;
    }
    pool_.closed(key_);
}

void call::abort() noexcept {
    aborted_ = true;
    if (conn_) {
        beast::error_code ignored;
        conn_->lowest().socket().cancel(ignored);
        conn_->lowest().socket().close(ignored);
    }
}

call_error call::classify(const boost::system::error_code& ec, bool before_answer) const {
    if (aborted_ || ec == asio::error::operation_aborted) {
        return call_error::cancelled;
    }
    if (ec == beast::error::timeout) {
        return call_error::timeout;
    }
    if (ec == bhttp::error::body_limit) {
        return call_error::too_large;
    }
    if (ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::broken_pipe || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message || ec == asio::ssl::error::stream_truncated ||
        ec.category() == asio::error::get_ssl_category()) {
        return call_error::reset;
    }
    return before_answer && ec.category() == asio::error::get_system_category()
               ? call_error::reset
               : call_error::protocol;
}

asio::awaitable<call_error> call::send(std::string head, std::string body) {
    // The head carries the provider key: overwrite it once sent, however the call ends.
    const aignehub::detail::wipe_on_exit wipe(head);
    started_ = clock::now();
    deadline_ = started_ + limits_.total;
    for (int round = 0; round < 2; ++round) {
        bool retry_fresh = false;
        const call_error outcome = co_await attempt(head, body, retry_fresh);
        if (!retry_fresh) {
            co_return outcome;
        }
    }
    co_return call_error::reset;
}

asio::awaitable<call_error> call::attempt(const std::string& head, const std::string& body,
                                          bool& retry_fresh) {
    bool reused = false;
    if (!conn_) {
        conn_ = pool_.take(key_, clock::now());
        reused = conn_ != nullptr;
    }
    if (!conn_) {
        if (!pool_.admit(key_)) {
            co_return call_error::busy;
        }
        fetch_error error = fetch_error::none;
        std::string message;
        conn_ =
            co_await open_connection(origin_, local_, deadline_, limits_.connect, error, message);
        if (!conn_) {
            pool_.closed(key_);
            switch (error) {
            case fetch_error::resolve:
                co_return call_error::resolve;
            case fetch_error::address_refused:
                co_return call_error::address_refused;
            case fetch_error::timeout:
                co_return aborted_ ? call_error::cancelled : call_error::timeout;
            case fetch_error::tls:
                co_return call_error::tls;
            default:
                co_return aborted_ ? call_error::cancelled : call_error::connect;
            }
        }
    }
    ++conn_->uses;
    // A kept-alive connection the provider closed meanwhile fails on the write or before the
    // first answer byte; the request never reached it, so a fresh connection may carry it.
    const auto stale = [&](const beast::error_code& ec, bool got_some) {
        if (reused && !got_some && !aborted_ && ec != beast::error::timeout &&
            ec != asio::error::operation_aborted) {
            conn_.reset();
            pool_.closed(key_);
            retry_fresh = true;
            return true;
        }
        return false;
    };

    auto& lowest = conn_->lowest();
    lowest.expires_after(phase(limits_.first_byte, deadline_));
    const beast::error_code wec = conn_->is_tls()
                                      ? co_await write_request(conn_->tls(), head, body)
                                      : co_await write_request(conn_->plain(), head, body);
    if (wec) {
        if (stale(wec, false)) {
            co_return call_error::reset;
        }
        co_return classify(wec, true);
    }
    parser_.emplace();
    parser_->header_limit(64 * 1024);
    parser_->body_limit(boost::none);
    // The first-byte deadline set before the write covers the wait for the head too.
    const beast::error_code rec = conn_->is_tls()
                                      ? co_await read_head(conn_->tls(), conn_->buffer, *parser_)
                                      : co_await read_head(conn_->plain(), conn_->buffer, *parser_);
    if (rec) {
        if (stale(rec, parser_->got_some())) {
            co_return call_error::reset;
        }
        co_return classify(rec, true);
    }
    ttfb_ = std::chrono::duration_cast<std::chrono::microseconds>(clock::now() - started_);
    finished_ = parser_->is_done();
    co_return call_error::none;
}

unsigned call::status() const {
    return parser_ ? parser_->get().result_int() : 0;
}

std::string_view call::header(std::string_view name) const {
    if (!parser_) {
        return {};
    }
    const auto& fields = parser_->get();
    const auto it = fields.find(name);
    return it == fields.end() ? std::string_view{} : std::string_view(it->value());
}

asio::awaitable<call_error> call::read_some(std::string& out) {
    piece_.resize(piece_size);
    while (!finished_) {
        auto& body = parser_->get().body();
        body.data = piece_.data();
        body.size = piece_.size();
        body.more = true;
        conn_->lowest().expires_after(phase(limits_.gap, deadline_));
        const beast::error_code ec =
            conn_->is_tls() ? co_await read_body_some(conn_->tls(), conn_->buffer, *parser_)
                            : co_await read_body_some(conn_->plain(), conn_->buffer, *parser_);
        if (ec) {
            co_return classify(ec, false);
        }
        const std::size_t got = piece_.size() - parser_->get().body().size;
        out.append(piece_.data(), got);
        finished_ = parser_->is_done();
        if (got != 0) {
            break;
        }
    }
    if (!take_buffered(out)) {
        co_return call_error::protocol;
    }
    co_return call_error::none;
}

// Parses what is already in the read buffer (the rest of a segment that carried several
// pieces, or the body's end right after the last one), without reading the socket.
bool call::take_buffered(std::string& out) {
    while (!finished_ && conn_->buffer.size() != 0) {
        auto& body = parser_->get().body();
        body.data = piece_.data();
        body.size = piece_.size();
        body.more = true;
        beast::error_code ec;
        const std::size_t used = parser_->put(conn_->buffer.data(), ec);
        conn_->buffer.consume(used);
        const std::size_t got = piece_.size() - parser_->get().body().size;
        out.append(piece_.data(), got);
        finished_ = parser_->is_done();
        if (ec == bhttp::error::need_more || (used == 0 && got == 0)) {
            return true; // a partial frame: the rest comes with the next read
        }
        if (ec && ec != bhttp::error::need_buffer) {
            return false;
        }
    }
    return true;
}

bool call::ready() const noexcept {
    if (!conn_ || finished_) {
        return false;
    }
    beast::error_code ec;
    const std::size_t waiting = conn_->lowest().socket().available(ec);
    return !ec && waiting != 0;
}

asio::awaitable<call_error> call::read_all(std::string& out) {
    while (!finished_) {
        if (const call_error e = co_await read_some(out); e != call_error::none) {
            co_return e;
        }
        if (out.size() > limits_.max_body) {
            co_return call_error::too_large;
        }
    }
    co_return call_error::none;
}

} // namespace aignehub::upstream
