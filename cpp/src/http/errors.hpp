#pragma once

#include "http/types.hpp"

#include <string_view>

namespace aignehub::http {

/// Every way a request can fail that the gateway answers itself. Add a kind, add its mapping in
/// errors.cpp: that table is the one place that decides status codes and error bodies.
enum class error_kind {
    bad_request,
    unauthorized,
    forbidden,
    not_found,
    conflict,
    unprocessable,
    method_not_allowed,
    request_timeout,
    payload_too_large,
    header_too_large,
    rate_limited,
    too_many_connections,
    unavailable,
    internal,
};

/// The HTTP status for an error kind.
[[nodiscard]] beast_http::status status_of(error_kind kind) noexcept;

/// Fills `res` with the status, content type and JSON body for `kind`, in OpenAI's error shape
/// {"error":{"message","type","param","code"}}. `message` must hold no secret. `param` names
/// the request field at fault, when there is one; `code` overrides the kind's default code.
void make_error(response& res, error_kind kind, std::string_view message,
                std::string_view param = {}, std::string_view code = {});

} // namespace aignehub::http
