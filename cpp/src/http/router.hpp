#pragma once

#include "http/types.hpp"

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aignehub::http {

/// A handler fills in the response for a request the router matched. It may throw only for
/// bugs; the session turns an escaped exception into a 500 without details.
using handler = std::function<void(const request&, response&)>;

/// Maps (method, exact path) to handlers. Unknown paths get a JSON 404, known paths with another
/// method a JSON 405 with an Allow header; HEAD is served by the GET handler.
class router {
public:
    void add(beast_http::verb method, std::string path, handler fn);
    void dispatch(const request& req, response& res) const;

private:
    struct route {
        beast_http::verb method;
        handler fn;
    };
    std::unordered_map<std::string, std::vector<route>> routes_;
};

} // namespace aignehub::http
