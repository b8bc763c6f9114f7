#include "upstream/client.hpp"

#include "aignehub/version.hpp"
#include "upstream/pool.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>

namespace aignehub::upstream {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

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

    lowest.expires_after(time_left(deadline));
    auto [wec, written] = co_await bhttp::async_write(stream, req, use_tuple);
    if (wec) {
        co_return failed(wec == beast::error::timeout ? fetch_error::timeout : fetch_error::connect,
                         "sending the request failed: " + wec.message());
    }
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(request.max_body);
    parser.header_limit(64 * 1024);
    lowest.expires_after(time_left(deadline));
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
    const auto deadline = clock::now() + request.total_timeout;
    fetch_error error = fetch_error::none;
    std::string message;
    auto conn = co_await open_connection(request.origin, request.local, deadline,
                                         request.connect_timeout, error, message);
    if (!conn) {
        co_return failed(error, std::move(message));
    }
    if (!conn->is_tls()) {
        co_return co_await exchange(conn->plain(), conn->plain(), request, deadline);
    }
    auto result = co_await exchange(conn->tls(), conn->lowest(), request, deadline);
    conn->lowest().expires_after(std::chrono::seconds(1));
    co_await conn->tls().async_shutdown(use_tuple);
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
