#include "frontdoor/openai.hpp"

#include "aignehub/providers.hpp"
#include "auth/keys.hpp"
#include "http/errors.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

namespace aignehub::frontdoor {

namespace {

using nlohmann::json;

json model_object(const json& m) {
    return {{"id", m["id"]}, {"object", "model"}, {"created", 0}, {"owned_by", m["provider"]}};
}

void answer(http::response& res, const json& body) {
    res.result(http::beast_http::status::ok);
    res.set(http::beast_http::field::content_type, "application/json");
    res.body() = body.dump();
}

} // namespace

void add_openai_routes(http::router& r, std::shared_ptr<provider_service> providers) {
    // The listings live in the database until the model catalogue joins the in-memory
    // snapshot; until then these routes run on the control-plane pool.
    constexpr http::route_options options{.blocking = true, .who = http::access::key};
    r.add(
        http::beast_http::verb::get, "/v1/models",
        [providers](const http::request&, http::response& res, const http::route_context& ctx) {
            json data = json::array();
            for (const auto& m : providers->models()) {
                if (auth::model_allowed(ctx.who->models, m["id"].get_ref<const std::string&>())) {
                    data.push_back(model_object(m));
                }
            }
            answer(res, {{"object", "list"}, {"data", std::move(data)}});
        },
        options);
    r.add(
        http::beast_http::verb::get, "/v1/models/{model+}",
        [providers](const http::request&, http::response& res, const http::route_context& ctx) {
            const std::string wanted(ctx.params.get("model"));
            if (!auth::model_allowed(ctx.who->models, wanted)) {
                http::make_error(res, http::error_kind::forbidden,
                                 "this key may not use the model '" + wanted + "'", "model",
                                 "model_not_allowed");
                return;
            }
            for (const auto& m : providers->models()) {
                if (m["id"] == wanted) {
                    answer(res, model_object(m));
                    return;
                }
            }
            http::make_error(res, http::error_kind::not_found,
                             "the model '" + wanted + "' does not exist or is not served here",
                             "model", "model_not_found");
        },
        options);
}

} // namespace aignehub::frontdoor
