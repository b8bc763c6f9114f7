#include "aignehub/errors.hpp"
#include "aignehub/server.hpp"

#include <gtest/gtest.h>

namespace aignehub {
namespace {

using namespace std::chrono_literals;

TEST(ServerConfig, DefaultsAreValid) {
    EXPECT_NO_THROW(server_config{}.validate());
}

TEST(ServerConfig, RefusesOutOfRangeSettingsNamingTheField) {
    const auto refuses = [](auto change, const std::string& field) {
        server_config c;
        change(c);
        try {
            c.validate();
            ADD_FAILURE() << field << " was accepted";
        } catch (const config_error& e) {
            EXPECT_EQ(std::string(e.what()).rfind(field + ":", 0), 0U) << e.what();
        }
    };
    refuses([](server_config& c) { c.host.clear(); }, "host");
    refuses([](server_config& c) { c.threads = 5000; }, "threads");
    refuses([](server_config& c) { c.max_header_bytes = 10; }, "max_header_bytes");
    refuses([](server_config& c) { c.max_body_bytes = 0; }, "max_body_bytes");
    refuses([](server_config& c) { c.header_timeout = 0ms; }, "header_timeout");
    refuses([](server_config& c) { c.idle_timeout = -1ms; }, "idle_timeout");
    refuses([](server_config& c) { c.shutdown_grace = 2h; }, "shutdown_grace");
    refuses([](server_config& c) { c.max_connections = 0; }, "max_connections");
}

} // namespace
} // namespace aignehub
