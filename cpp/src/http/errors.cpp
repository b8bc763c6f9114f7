#include "http/errors.hpp"

#include "core/log.hpp"

#include <boost/beast/http/field.hpp>

namespace aignehub::http {

namespace {

struct error_info {
    beast_http::status status;
    std::string_view type;
    std::string_view code;
};

constexpr error_info info_of(error_kind kind) noexcept {
    using s = beast_http::status;
    switch (kind) {
    case error_kind::bad_request:
        return {s::bad_request, "invalid_request_error", "bad_request"};
    case error_kind::unauthorized:
        return {s::unauthorized, "invalid_request_error", "invalid_api_key"};
    case error_kind::rate_limited:
        return {s::too_many_requests, "rate_limit_error", "rate_limit_exceeded"};
    case error_kind::forbidden:
        return {s::forbidden, "permission_error", "forbidden"};
    case error_kind::not_found:
        return {s::not_found, "invalid_request_error", "not_found"};
    case error_kind::conflict:
        return {s::conflict, "invalid_request_error", "conflict"};
    case error_kind::unprocessable:
        return {s::unprocessable_entity, "invalid_request_error", "unprocessable"};
    case error_kind::method_not_allowed:
        return {s::method_not_allowed, "invalid_request_error", "method_not_allowed"};
    case error_kind::request_timeout:
        return {s::request_timeout, "invalid_request_error", "request_timeout"};
    case error_kind::payload_too_large:
        return {s::payload_too_large, "invalid_request_error", "payload_too_large"};
    case error_kind::header_too_large:
        return {s::request_header_fields_too_large, "invalid_request_error",
                "request_header_fields_too_large"};
    case error_kind::too_many_connections:
        return {s::service_unavailable, "server_error", "too_many_connections"};
    case error_kind::unavailable:
        return {s::service_unavailable, "server_error", "unavailable"};
    case error_kind::internal:
        break;
    }
    return {s::internal_server_error, "server_error", "internal_error"};
}

} // namespace

beast_http::status status_of(error_kind kind) noexcept {
    return info_of(kind).status;
}

void make_error(response& res, error_kind kind, std::string_view message, std::string_view param,
                std::string_view code) {
    const error_info info = info_of(kind);
    res.result(info.status);
    res.set(beast_http::field::content_type, "application/json");
    std::string& body = res.body();
    body.clear();
    body.append(R"({"error":{"message":)");
    detail::append_json_string(body, message);
    body.append(R"(,"type":")");
    body.append(info.type);
    body.append(R"(","param":)");
    if (param.empty()) {
        body.append("null");
    } else {
        detail::append_json_string(body, param);
    }
    body.append(R"(,"code":)");
    detail::append_json_string(body, code.empty() ? info.code : code);
    body.append("}}");
}

} // namespace aignehub::http
