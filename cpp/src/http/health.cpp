#include "http/health.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"
#include "aignehub/version.hpp"
#include "core/log.hpp"

#include <boost/beast/http/field.hpp>

namespace aignehub::http {

void add_health_routes(router& r, std::shared_ptr<store> db) {
    r.add(beast_http::verb::get, "/healthz",
          [](const request&, response& res, const route_context&) {
              res.result(beast_http::status::ok);
              res.set(beast_http::field::content_type, "application/json");
              res.body() = R"({"status":"ok"})";
          });
    r.add(beast_http::verb::get, "/readyz",
          [db = std::move(db)](const request&, response& res, const route_context&) {
              res.set(beast_http::field::content_type, "application/json");
              std::string& body = res.body();
              try {
                  db->ping();
                  res.result(beast_http::status::ok);
                  body = R"({"status":"ready","version":)";
                  detail::append_json_string(body, version);
                  body.append(R"(,"store":{"backend":)");
                  detail::append_json_string(body, db->backend());
                  body.append(R"(,"status":"ok","schema_version":)");
                  body.append(std::to_string(db->schema_version()));
                  body.append("}}");
              } catch (const store_error& e) {
                  res.result(beast_http::status::service_unavailable);
                  body = R"({"status":"unavailable","store":{"status":"error","message":)";
                  detail::append_json_string(body, e.what());
                  body.append("}}");
              }
          });
}

} // namespace aignehub::http
