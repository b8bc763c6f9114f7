#include "admin/api.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/providers.hpp"
#include "http/errors.hpp"

#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include <charconv>

namespace aignehub::admin {

namespace {

using http::beast_http::status;
using http::beast_http::verb;
using nlohmann::json;

constexpr http::route_options admin_route{.blocking = true, .loopback_only = true};

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

std::int64_t id_of(const http::route_params& params) {
    const std::string_view text = params.get("id");
    std::int64_t id = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc{} || ptr != text.data() + text.size() || id <= 0) {
        throw not_found_error("no credential with id '" + std::string(text) + "'");
    }
    return id;
}

void answer(http::response& res, status code, const json& body) {
    res.result(code);
    res.set(http::beast_http::field::content_type, "application/json");
    res.body() = body.dump();
}

json listing(json items) {
    return {{"object", "list"}, {"data", std::move(items)}};
}

// Runs a service call and turns the control plane's exceptions into answers: the one place
// where their HTTP statuses are decided.
template <class Fn> http::handler guarded(Fn fn) {
    return [fn = std::move(fn)](const http::request& req, http::response& res,
                                const http::route_params& params) {
        try {
            fn(req, res, params);
        } catch (const invalid_input& e) {
            http::make_error(res, http::error_kind::bad_request, e.what(), e.field(),
                             "invalid_value");
        } catch (const not_found_error& e) {
            http::make_error(res, http::error_kind::not_found, e.what());
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

} // namespace

void add_routes(http::router& r, std::shared_ptr<provider_service> providers) {
    const std::string base = "/api/admin/providers";
    const std::string one = base + "/{name}";
    const std::string creds = one + "/credentials";
    const std::string cred = creds + "/{id}";
    auto p = std::move(providers);

    r.add(verb::get, "/api/admin/catalogue", guarded([p](auto&, auto& res, auto&) {
              answer(res, status::ok, listing(p->catalogue()));
          }),
          admin_route);
    r.add(verb::get, base,
          guarded([p](auto&, auto& res, auto&) { answer(res, status::ok, listing(p->list())); }),
          admin_route);
    r.add(verb::post, base, guarded([p](auto& req, auto& res, auto&) {
              answer(res, status::created, p->add(body_of(req)));
          }),
          admin_route);
    r.add(verb::get, one, guarded([p](auto&, auto& res, auto& params) {
              answer(res, status::ok, p->get(std::string(params.get("name"))));
          }),
          admin_route);
    r.add(verb::patch, one, guarded([p](auto& req, auto& res, auto& params) {
              answer(res, status::ok, p->update(std::string(params.get("name")), body_of(req)));
          }),
          admin_route);
    r.add(verb::delete_, one, guarded([p](auto&, auto& res, auto& params) {
              p->remove(std::string(params.get("name")));
              res.result(status::no_content);
          }),
          admin_route);
    r.add(verb::post, one + "/test", guarded([p](auto&, auto& res, auto& params) {
              answer(res, status::ok, p->test(std::string(params.get("name"))));
          }),
          admin_route);
    r.add(verb::get, creds, guarded([p](auto&, auto& res, auto& params) {
              answer(res, status::ok,
                     listing(p->list_credentials(std::string(params.get("name")))));
          }),
          admin_route);
    r.add(verb::post, creds, guarded([p](auto& req, auto& res, auto& params) {
              answer(res, status::created,
                     p->add_credential(std::string(params.get("name")), body_of(req)));
          }),
          admin_route);
    r.add(verb::get, cred, guarded([p](auto&, auto& res, auto& params) {
              answer(res, status::ok,
                     p->get_credential(std::string(params.get("name")), id_of(params)));
          }),
          admin_route);
    r.add(verb::patch, cred, guarded([p](auto& req, auto& res, auto& params) {
              answer(res, status::ok,
                     p->update_credential(std::string(params.get("name")), id_of(params),
                                          body_of(req)));
          }),
          admin_route);
    r.add(verb::delete_, cred, guarded([p](auto&, auto& res, auto& params) {
              p->remove_credential(std::string(params.get("name")), id_of(params));
              res.result(status::no_content);
          }),
          admin_route);
    r.add(verb::post, cred + "/test", guarded([p](auto&, auto& res, auto& params) {
              answer(res, status::ok,
                     p->test_credential(std::string(params.get("name")), id_of(params)));
          }),
          admin_route);
}

} // namespace aignehub::admin
