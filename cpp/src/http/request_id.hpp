#pragma once

#include <string>
#include <string_view>

namespace aignehub::http {

/// Longest incoming x-request-id kept as it is.
inline constexpr std::size_t max_request_id_length = 128;

/// True when an incoming x-request-id may be kept: 1 to 128 characters from
/// [A-Za-z0-9._:+=/-], so it can go into logs and headers without escaping.
[[nodiscard]] bool valid_request_id(std::string_view id) noexcept;

/// A fresh request id: 32 lowercase hex digits (128 random bits).
[[nodiscard]] std::string new_request_id();

} // namespace aignehub::http
