#include "http/router.hpp"

#include "http/access_log.hpp"
#include "http/errors.hpp"

#include <boost/beast/http/field.hpp>

namespace aignehub::http {

void router::add(beast_http::verb method, std::string path, handler fn) {
    routes_[std::move(path)].push_back(route{method, std::move(fn)});
}

void router::dispatch(const request& req, response& res) const {
    const std::string_view path = path_of(req.target());
    const auto found = routes_.find(std::string(path));
    if (found == routes_.end()) {
        std::string message = "no route for ";
        message.append(req.method_string());
        message.push_back(' ');
        message.append(path);
        make_error(res, error_kind::not_found, message);
        return;
    }
    const beast_http::verb wanted =
        req.method() == beast_http::verb::head ? beast_http::verb::get : req.method();
    std::string allow;
    for (const route& r : found->second) {
        if (r.method == wanted) {
            r.fn(req, res);
            return;
        }
        if (!allow.empty()) {
            allow.append(", ");
        }
        allow.append(beast_http::to_string(r.method));
        if (r.method == beast_http::verb::get) {
            allow.append(", HEAD");
        }
    }
    std::string message = "method ";
    message.append(req.method_string());
    message.append(" is not allowed on ");
    message.append(path);
    make_error(res, error_kind::method_not_allowed, message);
    res.set(beast_http::field::allow, allow);
}

} // namespace aignehub::http
