#include "aignehub/errors.hpp"
#include "aignehub/hub.hpp"
#include "aignehub/server.hpp"
#include "aignehub/store.hpp"
#include "aignehub/users.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>
#include <thread>
#include <vector>

namespace aignehub {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class ServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("aignehub-server-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
        db_ = open_sqlite_store(dir_ / "aignehub.db");
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::unique_ptr<server> start(server_config c = {}) {
        c.port = 0;
        c.threads = 2;
        c.access_log = "";
        return std::make_unique<server>(
            std::move(c), server_services{db_, nullptr, nullptr, nullptr, nullptr, nullptr, {}});
    }

    std::filesystem::path dir_;
    std::shared_ptr<store> db_;
};

struct client {
    explicit client(std::uint16_t port) : socket(ioc) {
        socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    }
    bhttp::response<bhttp::string_body> get(const std::string& target,
                                            const std::string& request_id = "",
                                            bhttp::verb method = bhttp::verb::get,
                                            const std::string& body = "",
                                            const std::string& key = "") {
        bhttp::request<bhttp::string_body> req{method, target, 11};
        if (!key.empty()) {
            req.set(bhttp::field::authorization, "Bearer " + key);
        }
        req.body() = body;
        req.prepare_payload();
        req.set(bhttp::field::host, "127.0.0.1");
        if (!request_id.empty()) {
            req.set("x-request-id", request_id);
        }
        bhttp::write(socket, req);
        bhttp::response<bhttp::string_body> res;
        bhttp::read(socket, buffer, res);
        return res;
    }
    asio::io_context ioc;
    tcp::socket socket;
    beast::flat_buffer buffer;
};

TEST_F(ServerTest, AnswersHealthAndReadinessOnOneKeptAliveConnection) {
    auto s = start();
    ASSERT_NE(s->port(), 0);
    client c(s->port());
    const auto health = c.get("/healthz");
    EXPECT_EQ(health.result(), bhttp::status::ok);
    EXPECT_EQ(nlohmann::json::parse(health.body())["status"], "ok");
    EXPECT_TRUE(health.keep_alive());
    const auto ready = c.get("/readyz");
    EXPECT_EQ(ready.result(), bhttp::status::ok);
    const auto body = nlohmann::json::parse(ready.body());
    EXPECT_EQ(body["store"]["schema_version"], latest_schema_version());
    EXPECT_EQ(s->connections(), 1U);
}

TEST_F(ServerTest, KeepsAValidRequestIdAndReplacesAnInvalidOne) {
    auto s = start();
    client c(s->port());
    EXPECT_EQ(c.get("/healthz", "my-id-1")["x-request-id"], "my-id-1");
    const auto replaced = c.get("/healthz", "bad id with spaces");
    EXPECT_EQ(replaced["x-request-id"].size(), 32U);
    const auto generated = c.get("/healthz");
    EXPECT_EQ(generated["x-request-id"].size(), 32U);
    EXPECT_NE(generated["x-request-id"], replaced["x-request-id"]);
}

TEST_F(ServerTest, StopClosesIdleConnectionsAndIsIdempotent) {
    auto s = start();
    client c(s->port());
    EXPECT_EQ(c.get("/healthz").result(), bhttp::status::ok);
    s->stop();
    EXPECT_FALSE(s->running());
    EXPECT_EQ(s->connections(), 0U);
    beast::error_code ec;
    std::array<char, 16> byte{};
    c.socket.read_some(asio::buffer(byte), ec);
    EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
    s->stop();
}

TEST_F(ServerTest, PortInUseIsABindError) {
    auto first = start();
    server_config c;
    c.port = first->port();
    c.access_log = "";
    try {
        server second(c, server_services{db_, nullptr, nullptr, nullptr, nullptr, nullptr, {}});
        FAIL() << "bound a port already in use";
    } catch (const bind_error& e) {
        EXPECT_EQ(e.code(), std::errc::address_in_use);
    }
}

TEST_F(ServerTest, OverCapacityConnectionsGet503) {
    server_config c;
    c.max_connections = 1;
    auto s = start(c);
    client held(s->port());
    EXPECT_EQ(held.get("/healthz").result(), bhttp::status::ok);
    client extra(s->port());
    bhttp::response<bhttp::string_body> res;
    bhttp::read(extra.socket, extra.buffer, res);
    EXPECT_EQ(res.result(), bhttp::status::service_unavailable);
    EXPECT_EQ(nlohmann::json::parse(res.body())["error"]["code"], "too_many_connections");
}

// Many clients on several server threads, then a stop while they are still connecting: under
// TSan this is the test that would show a data race in the session or shutdown code.
TEST_F(ServerTest, ConcurrentClientsAndAStopRacingThem) {
    auto s = start();
    const std::uint16_t port = s->port();
    std::atomic<int> ok{0};
    std::vector<std::thread> clients;
    clients.reserve(4);
    for (int t = 0; t < 4; ++t) {
        clients.emplace_back([port, &ok] {
            for (int conn = 0; conn < 20; ++conn) {
                try {
                    client c(port);
                    for (int i = 0; i < 10; ++i) {
                        if (c.get(i % 2 == 0 ? "/healthz" : "/readyz").result() ==
                            bhttp::status::ok) {
                            ++ok;
                        }
                    }
                } catch (const std::exception&) {
                    return; // the server stopped under us: expected near the end
                }
            }
        });
    }
    const auto give_up = std::chrono::steady_clock::now() + 30s; // a hang guard, not a timing
    while (ok.load() < 200 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::yield();
    }
    s->stop();
    for (auto& t : clients) {
        t.join();
    }
    EXPECT_GE(ok.load(), 200);
    EXPECT_EQ(s->connections(), 0U);
}

// The admin routes run on the control-plane pool and come back to the connection's strand;
// several clients at once make TSan watch that hand-over.
TEST_F(ServerTest, AdminRoutesRunOnTheControlPlanePool) {
    const hub h(dir_ / "hub", [](std::string_view) { return std::optional<std::string>(); });
    server_config c;
    c.port = 0;
    c.threads = 2;
    c.access_log = "";
    auto s = h.serve(c);
    const std::string key = h.users().bootstrap()["key"]["secret"];
    EXPECT_EQ(client(s->port()).get("/api/admin/providers").result(), bhttp::status::unauthorized);
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int t = 0; t < 3; ++t) {
        clients.emplace_back([&s, &ok, &key] {
            client cl(s->port());
            for (int i = 0; i < 5; ++i) {
                const auto listed = cl.get("/api/admin/providers", "", bhttp::verb::get, "", key);
                const auto refused =
                    cl.get("/api/admin/providers", "", bhttp::verb::post,
                           R"({"kind":"openai","api_key":"sk-x","weight":0})", key);
                if (listed.result() == bhttp::status::ok &&
                    nlohmann::json::parse(listed.body())["data"].empty() &&
                    refused.result() == bhttp::status::bad_request &&
                    nlohmann::json::parse(refused.body())["error"]["param"] == "weight") {
                    ++ok;
                }
            }
        });
    }
    for (auto& t : clients) {
        t.join();
    }
    EXPECT_EQ(ok.load(), 15);
}

} // namespace
} // namespace aignehub
