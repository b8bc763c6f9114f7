#pragma once

#include "upstream/url.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace aignehub::upstream {

/// One request to a provider.
struct fetch_request {
    std::string method = "GET";
    url origin;         ///< scheme, host and port come from here
    std::string target; ///< path and query, e.g. "/v1/models"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    /// Providers marked local may be reached on loopback and private addresses, and over http.
    bool local = false;
    std::chrono::milliseconds connect_timeout{5'000};
    std::chrono::milliseconds total_timeout{15'000};
    std::size_t max_body = 8 * 1024 * 1024;
};

enum class fetch_error {
    none,
    resolve,         ///< the host name does not resolve
    address_refused, ///< it resolves only to addresses this provider may not reach
    connect,
    tls,
    timeout,
    protocol, ///< the peer did not speak HTTP/1.1 as expected
    too_large,
};

struct fetch_result {
    fetch_error error = fetch_error::none;
    /// Why the call failed, when it did; safe to show (holds no header values).
    std::string message;
    unsigned status = 0;
    std::string body;
    std::string retry_after;
};

/// Sends `request` and reads the whole answer: resolves the host, refuses addresses the
/// provider may not reach, connects to a checked address, verifies TLS certificates against the
/// system store with SNI and host-name checks, follows no redirect. Never throws for network
/// failures; they come back in fetch_result::error.
[[nodiscard]] boost::asio::awaitable<fetch_result> fetch(fetch_request request);

/// fetch() on a private io_context, for control-plane callers that may block.
[[nodiscard]] fetch_result fetch_blocking(fetch_request request);

} // namespace aignehub::upstream
