#include "frontdoor/openai.hpp"

#include "auth/keys.hpp"
#include "http/errors.hpp"
#include "routing/routes.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace aignehub::frontdoor {

namespace {

using nlohmann::json;

json model_object(const std::string& id) {
    return {
        {"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", id.substr(0, id.find('/'))}};
}

// Anthropic's SDKs send anthropic-version on every call, and read models in Anthropic's shape.
bool anthropic_client(const http::request& req) {
    return req.find("anthropic-version") != req.end();
}

json anthropic_model(const std::string& id) {
    return {{"type", "model"},
            {"id", id},
            {"display_name", id},
            {"created_at", "1970-01-01T00:00:00Z"}};
}

void answer(http::response& res, const json& body) {
    res.result(http::beast_http::status::ok);
    res.set(http::beast_http::field::content_type, "application/json");
    res.body() = body.dump();
}

} // namespace

void add_openai_routes(http::router& r, std::shared_ptr<routing::routes> routes) {
    // Answered from the routing snapshot, on the connection's own thread.
    constexpr http::route_options options{.who = http::access::key};
    r.add(
        http::beast_http::verb::get, "/v1/models",
        [routes](const http::request& req, http::response& res, const http::route_context& ctx) {
            const bool anthropic = anthropic_client(req);
            json data = json::array();
            for (const auto& id : routes->current()->model_ids) {
                if (auth::model_allowed(ctx.who->models, id)) {
                    data.push_back(anthropic ? anthropic_model(id) : model_object(id));
                }
            }
            if (anthropic) {
                // One page holds every model: has_more is false.
                const json first = data.empty() ? json() : data.front()["id"];
                const json last = data.empty() ? json() : data.back()["id"];
                answer(res, {{"data", std::move(data)},
                             {"has_more", false},
                             {"first_id", first},
                             {"last_id", last}});
                return;
            }
            answer(res, {{"object", "list"}, {"data", std::move(data)}});
        },
        options);
    r.add(
        http::beast_http::verb::get, "/v1/models/{model+}",
        [routes](const http::request& req, http::response& res, const http::route_context& ctx) {
            const std::string wanted(ctx.params.get("model"));
            if (!auth::model_allowed(ctx.who->models, wanted)) {
                http::make_error(res, http::error_kind::forbidden,
                                 "this key may not use the model '" + wanted + "'", "model",
                                 "model_not_allowed");
                return;
            }
            const auto& ids = routes->current()->model_ids;
            if (std::binary_search(ids.begin(), ids.end(), wanted)) {
                answer(res, anthropic_client(req) ? anthropic_model(wanted) : model_object(wanted));
                return;
            }
            http::make_error(res, http::error_kind::not_found,
                             "the model '" + wanted + "' does not exist or is not served here",
                             "model", "model_not_found");
        },
        options);
}

} // namespace aignehub::frontdoor
