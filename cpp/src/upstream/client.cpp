#include "upstream/client.hpp"

#include "aignehub/version.hpp"
#include "upstream/address.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

namespace aignehub::upstream {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock = std::chrono::steady_clock;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

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

std::chrono::milliseconds left(clock::time_point deadline) {
    const auto rest =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    return rest.count() > 0 ? rest : std::chrono::milliseconds(1);
}

fetch_result failed(fetch_error error, std::string message) {
    fetch_result out;
    out.error = error;
    out.message = std::move(message);
    return out;
}

// Writes the request and reads the answer on an established stream.
template <class Stream>
asio::awaitable<fetch_result> exchange(Stream& stream, beast::tcp_stream& lowest,
                                       const fetch_request& request, clock::time_point deadline) {
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(request.method),
                                           request.target.empty() ? "/" : request.target, 11};
    req.set(bhttp::field::host, request.origin.host_header());
    req.set(bhttp::field::user_agent, std::string("aignehub/") + version);
    req.set(bhttp::field::accept, "application/json");
    for (const auto& [name, value] : request.headers) {
        req.set(name, value);
    }
    req.keep_alive(false);
    req.body() = request.body;
    req.prepare_payload();

    lowest.expires_after(left(deadline));
    auto [wec, written] = co_await bhttp::async_write(stream, req, use_tuple);
    if (wec) {
        co_return failed(wec == beast::error::timeout ? fetch_error::timeout : fetch_error::connect,
                         "sending the request failed: " + wec.message());
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(request.max_body);
    parser.header_limit(64 * 1024);
    lowest.expires_after(left(deadline));
    auto [rec, read] = co_await bhttp::async_read(stream, buffer, parser, use_tuple);
    if (rec) {
        if (rec == beast::error::timeout) {
            co_return failed(fetch_error::timeout, "the provider did not answer in time");
        }
        if (rec == bhttp::error::body_limit) {
            co_return failed(fetch_error::too_large, "the answer is larger than allowed");
        }
        co_return failed(fetch_error::protocol, "reading the answer failed: " + rec.message());
    }
    auto res = parser.release();
    fetch_result out;
    out.status = res.result_int();
    out.retry_after = std::string(res[bhttp::field::retry_after]);
    out.body = std::move(res.body());
    co_return out;
}

} // namespace

asio::awaitable<fetch_result> fetch(fetch_request request) {
    auto executor = co_await asio::this_coro::executor;
    const auto deadline = clock::now() + request.total_timeout;
    const url& origin = request.origin;
    if (origin.scheme == "http" && !request.local) {
        co_return failed(fetch_error::address_refused,
                         "plain http is allowed only for providers marked local");
    }

    tcp::resolver resolver(executor);
    auto [rec, results] =
        co_await resolver.async_resolve(origin.host, std::to_string(origin.port), use_tuple);
    if (rec) {
        co_return failed(fetch_error::resolve, "cannot resolve " + origin.host);
    }
    std::vector<tcp::endpoint> allowed;
    std::optional<address_class> refused;
    for (const auto& entry : results) {
        const auto address = entry.endpoint().address();
        if (may_connect(address, request.local)) {
            allowed.push_back(entry.endpoint());
        } else {
            refused = classify(address);
        }
    }
    if (allowed.empty()) {
        co_return failed(fetch_error::address_refused,
                         origin.host + " resolves to " +
                             std::string(describe(refused.value_or(address_class::reserved))) +
                             ", which only providers marked local may reach");
    }

    beast::tcp_stream stream(executor);
    stream.expires_after(std::min(request.connect_timeout, left(deadline)));
    auto [cec, endpoint] = co_await stream.async_connect(allowed, use_tuple);
    if (cec) {
        co_return failed(cec == beast::error::timeout ? fetch_error::timeout : fetch_error::connect,
                         "cannot connect to " + origin.host_header() + ": " + cec.message());
    }
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);

    if (origin.scheme == "http") {
        co_return co_await exchange(stream, stream, request, deadline);
    }
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), tls_context());
    if (!origin.ipv6_literal &&
        ::SSL_set_tlsext_host_name(tls.native_handle(), origin.host.c_str()) != 1) {
        co_return failed(fetch_error::tls, "cannot set the TLS server name");
    }
    tls.set_verify_callback(ssl::host_name_verification(origin.host));
    beast::get_lowest_layer(tls).expires_after(left(deadline));
    auto [hec] = co_await tls.async_handshake(ssl::stream_base::client, use_tuple);
    if (hec) {
        co_return failed(hec == beast::error::timeout ? fetch_error::timeout : fetch_error::tls,
                         "TLS handshake with " + origin.host + " failed: " + hec.message());
    }
    auto result = co_await exchange(tls, beast::get_lowest_layer(tls), request, deadline);
    beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(1));
    co_await tls.async_shutdown(use_tuple);
    co_return result;
}

fetch_result fetch_blocking(fetch_request request) {
    asio::io_context context(1);
    std::optional<fetch_result> result;
    asio::co_spawn(
        context, fetch(std::move(request)), [&result](const std::exception_ptr& e, fetch_result r) {
            result = e ? failed(fetch_error::protocol, "the request failed") : std::move(r);
        });
    context.run();
    return result ? std::move(*result) : failed(fetch_error::protocol, "the request failed");
}

} // namespace aignehub::upstream
