#include "admin/api.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/providers.hpp"
#include "aignehub/users.hpp"
#include "auth/keys.hpp"
#include "billing/usage_query.hpp"
#include "http/errors.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include <charconv>

namespace aignehub::admin {

namespace {

using http::beast_http::status;
using http::beast_http::verb;
using nlohmann::json;

constexpr http::route_options for_managers{.blocking = true, .who = http::access::manager};
constexpr http::route_options for_key_holders{.blocking = true, .who = http::access::key};

// The request body as a JSON object; an empty body is an empty object.
json body_of(const http::request& req) {
    if (req.body().empty()) {
        return json::object();
    }
    try {
        return json::parse(req.body());
    } catch (const json::parse_error& e) {
        // The parser's own message quotes the body, which may hold a key: say where, not what.
        throw invalid_input("body",
                            "is not valid JSON (error at byte " + std::to_string(e.byte) + ")");
    }
}

std::int64_t number_of(const http::route_context& ctx, std::string_view placeholder,
                       const char* what) {
    const std::string_view text = ctx.params.get(placeholder);
    std::int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || ptr != text.data() + text.size() || id <= 0) {
        throw not_found_error(std::string("no ") + what + " with id '" + std::string(text) + "'");
    }
    return id;
}

std::string name_of(const http::route_context& ctx) {
    return std::string(ctx.params.get("name"));
}

actor actor_of(const http::route_context& ctx) {
    return {ctx.who->user_id, ctx.who->role};
}

void answer(http::response& res, status code, const json& body) {
    res.result(code);
    res.set(http::beast_http::field::content_type, "application/json");
    res.body() = body.dump();
}

// The query string's parameters; a malformed escape is the caller's error.
std::vector<std::pair<std::string, std::string>> query_of(const http::request& req) {
    auto params = http::query_params(req.target());
    if (!params) {
        throw invalid_input("query", "has a malformed percent escape");
    }
    return std::move(*params);
}

json listing(json items) {
    return {{"object", "list"}, {"data", std::move(items)}};
}

// Runs a service call and turns the control plane's exceptions into answers: the one place
// where their HTTP statuses are decided.
template <class Fn> http::handler guarded(Fn fn) {
    return [fn = std::move(fn)](const http::request& req, http::response& res,
                                const http::route_context& ctx) {
        try {
            fn(req, res, ctx);
        } catch (const invalid_input& e) {
            http::make_error(res, http::error_kind::bad_request, e.what(), e.field(),
                             "invalid_value");
        } catch (const not_found_error& e) {
            http::make_error(res, http::error_kind::not_found, e.what());
        } catch (const forbidden_error& e) {
            http::make_error(res, http::error_kind::forbidden, e.what());
        } catch (const conflict_error& e) {
            http::make_error(res, http::error_kind::conflict, e.what());
        } catch (const credential_rejected& e) {
            http::make_error(res, http::error_kind::unprocessable, e.what(), "api_key",
                             e.outcome());
        } catch (const config_error& e) {
            http::make_error(res, http::error_kind::bad_request, e.what());
        } catch (const store_error& e) {
            http::make_error(res, http::error_kind::unavailable, e.what());
        } catch (const crypto_error&) {
            http::make_error(res, http::error_kind::internal,
                             "a stored secret could not be decrypted with the loaded master key");
        }
    };
}

void add_provider_routes(http::router& r, const std::shared_ptr<provider_service>& p) {
    const std::string base = "/api/admin/providers";
    const std::string one = base + "/{name}";
    const std::string creds = one + "/credentials";
    const std::string cred = creds + "/{id}";
    const auto id = [](const http::route_context& ctx) {
        return number_of(ctx, "id", "credential");
    };

    r.add(verb::get, "/api/admin/catalogue", guarded([p](auto&, auto& res, auto&) {
              answer(res, status::ok, listing(p->catalogue()));
          }),
          for_managers);
    r.add(verb::get, base,
          guarded([p](auto&, auto& res, auto&) { answer(res, status::ok, listing(p->list())); }),
          for_managers);
    r.add(verb::post, base, guarded([p](auto& req, auto& res, auto&) {
              answer(res, status::created, p->add(body_of(req)));
          }),
          for_managers);
    r.add(verb::get, one, guarded([p](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, p->get(name_of(ctx)));
          }),
          for_managers);
    r.add(verb::patch, one, guarded([p](auto& req, auto& res, auto& ctx) {
              answer(res, status::ok, p->update(name_of(ctx), body_of(req)));
          }),
          for_managers);
    r.add(verb::delete_, one, guarded([p](auto&, auto& res, auto& ctx) {
              p->remove(name_of(ctx));
              res.result(status::no_content);
          }),
          for_managers);
    r.add(verb::post, one + "/test", guarded([p](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, p->test(name_of(ctx)));
          }),
          for_managers);
    r.add(verb::get, creds, guarded([p](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, listing(p->list_credentials(name_of(ctx))));
          }),
          for_managers);
    r.add(verb::post, creds, guarded([p](auto& req, auto& res, auto& ctx) {
              answer(res, status::created, p->add_credential(name_of(ctx), body_of(req)));
          }),
          for_managers);
    r.add(verb::get, cred, guarded([p, id](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, p->get_credential(name_of(ctx), id(ctx)));
          }),
          for_managers);
    r.add(verb::patch, cred, guarded([p, id](auto& req, auto& res, auto& ctx) {
              answer(res, status::ok, p->update_credential(name_of(ctx), id(ctx), body_of(req)));
          }),
          for_managers);
    r.add(verb::delete_, cred, guarded([p, id](auto&, auto& res, auto& ctx) {
              p->remove_credential(name_of(ctx), id(ctx));
              res.result(status::no_content);
          }),
          for_managers);
    r.add(verb::get, "/api/admin/aliases",
          guarded([p](auto&, auto& res, auto&) { answer(res, status::ok, p->aliases()); }),
          for_managers);
    r.add(verb::put, "/api/admin/aliases/{alias+}", guarded([p](auto& req, auto& res, auto& ctx) {
              answer(res, status::ok,
                     p->set_alias(std::string(ctx.params.get("alias")), body_of(req)));
          }),
          for_managers);
    r.add(verb::delete_, "/api/admin/aliases/{alias+}", guarded([p](auto&, auto& res, auto& ctx) {
              p->remove_alias(std::string(ctx.params.get("alias")));
              res.result(status::no_content);
          }),
          for_managers);
    r.add(verb::post, cred + "/test", guarded([p, id](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, p->test_credential(name_of(ctx), id(ctx)));
          }),
          for_managers);
}

void add_user_routes(http::router& r, const std::shared_ptr<user_service>& u) {
    const auto user_id = [](const http::route_context& ctx) {
        return number_of(ctx, "id", "user");
    };
    const auto key_id = [](const http::route_context& ctx) {
        return number_of(ctx, "id", "access key");
    };
    r.add(verb::get, "/api/me", guarded([u](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, u->me(ctx.who->user_id, ctx.who->key_id));
          }),
          for_key_holders);
    r.add(verb::get, "/api/admin/users", guarded([u](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, listing(u->list_users(actor_of(ctx))));
          }),
          for_key_holders);
    r.add(verb::post, "/api/admin/users", guarded([u](auto& req, auto& res, auto& ctx) {
              answer(res, status::created, u->add_user(actor_of(ctx), body_of(req)));
          }),
          for_key_holders);
    r.add(verb::get, "/api/admin/users/{id}", guarded([u, user_id](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, u->get_user(actor_of(ctx), user_id(ctx)));
          }),
          for_key_holders);
    r.add(verb::patch, "/api/admin/users/{id}",
          guarded([u, user_id](auto& req, auto& res, auto& ctx) {
              answer(res, status::ok, u->update_user(actor_of(ctx), user_id(ctx), body_of(req)));
          }),
          for_key_holders);
    r.add(verb::get, "/api/admin/keys", guarded([u](auto& req, auto& res, auto& ctx) {
              // ?user_id=N narrows the listing; no query string lists what the caller may see.
              std::optional<std::int64_t> owner;
              for (const auto& [name, value] : query_of(req)) {
                  if (name == "user_id") {
                      http::route_context parsed;
                      parsed.params.add("id", value);
                      owner = number_of(parsed, "id", "user");
                  }
              }
              answer(res, status::ok, listing(u->list_keys(actor_of(ctx), owner)));
          }),
          for_key_holders);
    r.add(verb::post, "/api/admin/keys", guarded([u](auto& req, auto& res, auto& ctx) {
              answer(res, status::created, u->create_key(actor_of(ctx), body_of(req)));
          }),
          for_key_holders);
    r.add(verb::get, "/api/admin/keys/{id}", guarded([u, key_id](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, u->get_key(actor_of(ctx), key_id(ctx)));
          }),
          for_key_holders);
    r.add(verb::patch, "/api/admin/keys/{id}",
          guarded([u, key_id](auto& req, auto& res, auto& ctx) {
              answer(res, status::ok, u->update_key(actor_of(ctx), key_id(ctx), body_of(req)));
          }),
          for_key_holders);
    r.add(verb::delete_, "/api/admin/keys/{id}", guarded([u, key_id](auto&, auto& res, auto& ctx) {
              answer(res, status::ok, u->revoke_key(actor_of(ctx), key_id(ctx)));
          }),
          for_key_holders);
}

void add_usage_routes(http::router& r, const std::shared_ptr<store>& db) {
    r.add(verb::get, "/api/admin/usage", guarded([db](auto& req, auto& res, auto& ctx) {
              json filter = json::object();
              for (const auto& [name, value] : query_of(req)) {
                  filter[name] = value;
              }
              answer(res, status::ok, billing::query_usage(*db, actor_of(ctx), filter));
          }),
          for_key_holders);
}

} // namespace

void add_routes(http::router& r, std::shared_ptr<provider_service> providers,
                std::shared_ptr<user_service> users, std::shared_ptr<store> db) {
    add_provider_routes(r, providers);
    add_user_routes(r, users);
    add_usage_routes(r, db);
}

} // namespace aignehub::admin
