#include "http/errors.hpp"
#include "http/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace aignehub::http {
namespace {

request make_request(beast_http::verb method, std::string_view target) {
    request req{method, target, 11};
    return req;
}

router sample_router() {
    router r;
    r.add(beast_http::verb::get, "/thing", [](const request&, response& res, const route_context&) {
        res.result(beast_http::status::ok);
        res.body() = "got";
    });
    r.add(beast_http::verb::post, "/thing",
          [](const request&, response& res, const route_context&) {
              res.result(beast_http::status::created);
              res.body() = "posted";
          });
    return r;
}

// Runs the matched handler as the session would.
void dispatch(const router& r, const request& req, response& res) {
    if (auto m = r.find(req, res)) {
        m->target->fn(req, res, route_context{m->params});
    }
}

TEST(Router, DispatchesByMethodAndPathIgnoringTheQuery) {
    const router r = sample_router();
    response res;
    dispatch(r, make_request(beast_http::verb::get, "/thing?x=1"), res);
    EXPECT_EQ(res.result(), beast_http::status::ok);
    EXPECT_EQ(res.body(), "got");
    response posted;
    dispatch(r, make_request(beast_http::verb::post, "/thing"), posted);
    EXPECT_EQ(posted.result(), beast_http::status::created);
}

TEST(Router, PatternsCaptureWholeSegments) {
    router r;
    r.add(
        beast_http::verb::get, "/p/{name}/c/{id}",
        [](const request&, response& res, const route_context& ctx) {
            res.body() =
                std::string(ctx.params.get("name")) + "|" + std::string(ctx.params.get("id"));
        },
        route_options{.blocking = true});
    response res;
    const auto m = r.find(make_request(beast_http::verb::get, "/p/openai/c/12?x=1"), res);
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->target->options.blocking);
    m->target->fn(make_request(beast_http::verb::get, "/p/openai/c/12"), res,
                  route_context{m->params});
    EXPECT_EQ(res.body(), "openai|12");
    for (const char* miss : {"/p/openai/c", "/p//c/1", "/p/openai/c/1/extra", "/p/openai/x/1"}) {
        response not_found;
        EXPECT_FALSE(r.find(make_request(beast_http::verb::get, miss), not_found)) << miss;
        EXPECT_EQ(not_found.result(), beast_http::status::not_found) << miss;
    }
    response wrong_method;
    EXPECT_FALSE(r.find(make_request(beast_http::verb::put, "/p/a/c/1"), wrong_method));
    EXPECT_EQ(wrong_method.result(), beast_http::status::method_not_allowed);
}

TEST(Router, HeadUsesTheGetHandler) {
    const router r = sample_router();
    response res;
    dispatch(r, make_request(beast_http::verb::head, "/thing"), res);
    EXPECT_EQ(res.body(), "got");
}

TEST(Router, UnknownPathIsAJson404InOpenAiShape) {
    const router r = sample_router();
    response res;
    dispatch(r, make_request(beast_http::verb::get, "/nope?secret=1"), res);
    EXPECT_EQ(res.result(), beast_http::status::not_found);
    EXPECT_EQ(res[beast_http::field::content_type], "application/json");
    const auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["error"]["code"], "not_found");
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    EXPECT_TRUE(body["error"]["param"].is_null());
    EXPECT_EQ(body["error"]["message"], "no route for GET /nope");
}

TEST(Router, WrongMethodIs405WithAllow) {
    const router r = sample_router();
    response res;
    dispatch(r, make_request(beast_http::verb::delete_, "/thing"), res);
    EXPECT_EQ(res.result(), beast_http::status::method_not_allowed);
    EXPECT_EQ(res[beast_http::field::allow], "GET, HEAD, POST");
}

TEST(Errors, EveryKindMapsToItsStatus) {
    EXPECT_EQ(status_of(error_kind::bad_request), beast_http::status::bad_request);
    EXPECT_EQ(status_of(error_kind::payload_too_large), beast_http::status::payload_too_large);
    EXPECT_EQ(status_of(error_kind::header_too_large),
              beast_http::status::request_header_fields_too_large);
    EXPECT_EQ(status_of(error_kind::too_many_connections), beast_http::status::service_unavailable);
    EXPECT_EQ(status_of(error_kind::internal), beast_http::status::internal_server_error);
}

TEST(Errors, MessageIsEscaped) {
    response res;
    make_error(res, error_kind::bad_request, "bad \"thing\"\n");
    const auto body = nlohmann::json::parse(res.body());
    EXPECT_EQ(body["error"]["message"], "bad \"thing\"\n");
}

TEST(Router, ARestPlaceholderTakesTheRestOfThePath) {
    router r;
    r.add(beast_http::verb::get, "/v1/models/{model+}",
          [](const request&, response& res, const route_context& ctx) {
              res.body() = std::string(ctx.params.get("model"));
          });
    response res;
    const auto m = r.find(make_request(beast_http::verb::get, "/v1/models/openrouter/a/b"), res);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->params.get("model"), "openrouter/a/b");
    const auto encoded =
        r.find(make_request(beast_http::verb::get, "/v1/models/openai%2Fgpt-4o"), res);
    ASSERT_TRUE(encoded.has_value());
    EXPECT_EQ(encoded->params.get("model"), "openai/gpt-4o");
    for (const char* miss : {"/v1/models", "/v1/models/", "/v1/models/a/", "/v1/models/a%2",
                             "/v1/models/a%zz", "/v1/models/a%00b"}) {
        response not_found;
        EXPECT_FALSE(r.find(make_request(beast_http::verb::get, miss), not_found)) << miss;
    }
}

} // namespace
} // namespace aignehub::http
