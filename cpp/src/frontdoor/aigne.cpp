#include "frontdoor/aigne.hpp"

#include "aignehub/version.hpp"
#include "auth/keys.hpp"
#include "gateway/adapter.hpp"
#include "gateway/aigne_wire.hpp"
#include "http/errors.hpp"
#include "providers/catalogue.hpp"
#include "routing/routes.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include <array>
#include <chrono>

namespace aignehub::frontdoor {

namespace {

using nlohmann::json;

// The component id @aigne/aigne-hub looks for in the discovery document.
constexpr std::string_view hub_component = "z8ia3xzq2tMq8CRHfaXj1BTYJyYnEcHbqP8cJ";

// One query parameter's value; empty when absent or the query is malformed.
std::string query_value(const http::request& req, std::string_view name) {
    if (auto params = http::query_params(req.target())) {
        for (auto& [key, value] : *params) {
            if (key == name) {
                return std::move(value);
            }
        }
    }
    return {};
}

void answer(http::response& res, std::string body, std::string_view type = "application/json") {
    res.result(http::beast_http::status::ok);
    res.set(http::beast_http::field::content_type, type);
    res.set(http::beast_http::field::cache_control, "no-store");
    res.body() = std::move(body);
}

json discovery(const http::request& req) {
    const std::string_view host = req[http::beast_http::field::host];
    return {{"appName", "aignehub"},
            {"appUrl", host.empty() ? std::string() : "http://" + std::string(host)},
            {"version", version},
            {"componentMountPoints", json::array({{{"did", hub_component},
                                                   {"name", "ai-kit"},
                                                   {"title", "AIGNE Hub"},
                                                   {"mountPoint", "/"},
                                                   {"status", "running"},
                                                   {"version", version}}})}};
}

// What a model does, read from its name: listings say no more.
std::string_view type_of(std::string_view model) {
    constexpr std::array<std::string_view, 5> image{"dall-e", "gpt-image", "imagen", "-image",
                                                    "flux"};
    constexpr std::array<std::string_view, 2> video{"sora", "veo-"};
    for (const std::string_view word : image) {
        if (model.find(word) != std::string_view::npos) {
            return "image";
        }
    }
    for (const std::string_view word : video) {
        if (model.starts_with(word)) {
            return "video";
        }
    }
    if (model.find("embed") != std::string_view::npos) {
        return "embedding";
    }
    return "chat";
}

// A credential usable now (or none needed).
bool available(const routing::provider_entry& p) {
    if (p.credentials.empty()) {
        return !p.kind->key_required;
    }
    const auto next = p.balancer->next_available();
    return next && *next <= std::chrono::steady_clock::now();
}

json status_of(const routing::route_snapshot& snapshot, std::string name) {
    name = gateway::aigne::without_hub_prefix(std::move(name));
    if (const auto alias = snapshot.aliases.find(name); alias != snapshot.aliases.end()) {
        name = alias->second;
    }
    const auto targets = gateway::resolve(snapshot, name);
    if (targets.empty()) {
        return {{"available", false},
                {"error", "the model '" + name + "' does not exist or is not served here"},
                {"code", "model_not_found"}};
    }
    for (const auto& t : targets) {
        if (available(*t.provider)) {
            return {{"available", true}};
        }
    }
    return {{"available", false},
            {"error", "no provider of '" + name + "' has a usable credential now"},
            {"code", "no_usable_credential"}};
}

} // namespace

void add_aigne_routes(http::router& r, std::shared_ptr<routing::routes> routes) {
    // Read without a key, as the client does before it sends its key anywhere.
    r.add(http::beast_http::verb::get, "/__blocklet__.js",
          [](const http::request& req, http::response& res, const http::route_context&) {
              const json document = discovery(req);
              if (query_value(req, "type") == "json") {
                  answer(res, document.dump());
              } else {
                  answer(res, "window.blocklet = " + document.dump() + ";\n",
                         "application/javascript");
              }
          });
    r.add(http::beast_http::verb::get, "/api/ai/models",
          [routes](const http::request& req, http::response& res, const http::route_context&) {
              const std::string wanted = query_value(req, "type");
              const auto snapshot = routes->current();
              json list = json::array();
              for (const auto& id : snapshot->model_ids) {
                  const auto slash = id.find('/');
                  const auto provider = snapshot->by_name.find(id.substr(0, slash));
                  if (provider == snapshot->by_name.end()) {
                      continue;
                  }
                  const std::string model = id.substr(slash + 1);
                  const std::string_view type = type_of(model);
                  if (!wanted.empty() && wanted != type) {
                      continue;
                  }
                  list.push_back({{"model", model},
                                  {"type", type},
                                  {"provider", provider->first},
                                  {"providerDisplayName", provider->second->kind->display_name},
                                  {"input_credits_per_token", "0"},
                                  {"output_credits_per_token", "0"},
                                  {"modelMetadata", nullptr},
                                  {"status", {{"available", available(*provider->second)}}}});
              }
              answer(res, list.dump());
          });
    constexpr http::route_options keyed{.who = http::access::key};
    r.add(
        http::beast_http::verb::get, "/api/v2/status",
        [routes](const http::request& req, http::response& res, const http::route_context& ctx) {
            const std::string model = query_value(req, "model");
            if (model.empty()) {
                http::make_error(res, http::error_kind::bad_request, "model is required", "model");
                return;
            }
            if (!auth::model_allowed(ctx.who->models, model)) {
                answer(res, json{{"available", false},
                                 {"error", "this key may not use the model '" + model + "'"},
                                 {"code", "model_not_allowed"}}
                                .dump());
                return;
            }
            answer(res, status_of(*routes->current(), model).dump());
        },
        keyed);
}

} // namespace aignehub::frontdoor
