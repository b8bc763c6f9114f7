#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace aignehub::http {

/// What one access-log line records. Deliberately no headers, cookies, query strings or bodies:
/// those are where credentials travel.
struct access_entry {
    std::chrono::system_clock::time_point time;
    std::string_view method;
    std::string_view target; ///< the request target; only its path is logged
    unsigned status = 0;
    std::chrono::microseconds duration{0};
    std::uint64_t bytes_in = 0;  ///< request body bytes
    std::uint64_t bytes_out = 0; ///< response body bytes
    std::string_view request_id;
    std::string_view remote;
};

/// The target without its query string or fragment.
[[nodiscard]] std::string_view path_of(std::string_view target) noexcept;

/// One JSON line (no newline) for `entry`.
[[nodiscard]] std::string access_line(const access_entry& entry);

} // namespace aignehub::http
