#include "aignehub/errors.hpp"
#include "core/log.hpp"
#include "http/access_log.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace aignehub {
namespace {

using namespace std::chrono_literals;

TEST(AccessLog, LineIsJsonWithThePathOnly) {
    const http::access_entry entry{std::chrono::system_clock::time_point(1'764'129'748'123ms),
                                   "GET",
                                   "/v1/models?key=secret-in-query#frag",
                                   200,
                                   1234us,
                                   5,
                                   17,
                                   "abc",
                                   "127.0.0.1"};
    const std::string line = http::access_line(entry);
    const auto parsed = nlohmann::json::parse(line);
    EXPECT_EQ(parsed["time"], "2025-11-26T04:02:28.123Z");
    EXPECT_EQ(parsed["method"], "GET");
    EXPECT_EQ(parsed["path"], "/v1/models");
    EXPECT_EQ(parsed["status"], 200);
    EXPECT_DOUBLE_EQ(parsed["duration_ms"].get<double>(), 1.234);
    EXPECT_EQ(parsed["bytes_in"], 5);
    EXPECT_EQ(parsed["bytes"], 17);
    EXPECT_EQ(parsed["request_id"], "abc");
    EXPECT_EQ(line.find("secret"), std::string::npos);
}

TEST(AccessLog, PathOfStripsQueryAndFragment) {
    EXPECT_EQ(http::path_of("/a/b?x=1"), "/a/b");
    EXPECT_EQ(http::path_of("/a#x"), "/a");
    EXPECT_EQ(http::path_of("/plain"), "/plain");
    EXPECT_EQ(http::path_of(""), "");
}

TEST(JsonString, EscapesControlsAndReplacesInvalidUtf8) {
    std::string out;
    detail::append_json_string(out, std::string("a\"b\\c\n\x01\x7f\xff caf\xc3\xa9 \xe2\x82"));
    const auto parsed = nlohmann::json::parse(out);
    EXPECT_EQ(parsed.get<std::string>(),
              "a\"b\\c\n\x01\x7f\xef\xbf\xbd caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd");
}

TEST(JsonString, RejectsOverlongAndSurrogateEncodings) {
    std::string out;
    detail::append_json_string(out, "\xc0\xaf|\xed\xa0\x80");
    const auto parsed = nlohmann::json::parse(out).get<std::string>();
    EXPECT_EQ(parsed.find('/'), std::string::npos);
    EXPECT_NE(parsed.find("\xef\xbf\xbd"), std::string::npos);
}

TEST(LogSink, WritesLinesToAFileOnFlush) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("aignehub-log-" + std::to_string(::getpid()) + ".log");
    std::filesystem::remove(path);
    {
        detail::log_sink sink(path.string());
        ASSERT_TRUE(sink.enabled());
        sink.write("one");
        sink.write("two");
        sink.flush();
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        EXPECT_EQ(text.str(), "one\ntwo\n");
        sink.write("three");
    }
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "one\ntwo\nthree\n") << "the destructor flushes what is left";
    EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
              std::filesystem::perms::none);
    std::filesystem::remove(path);
}

TEST(LogSink, EmptyDestinationDiscards) {
    detail::log_sink sink("");
    EXPECT_FALSE(sink.enabled());
    sink.write("nothing");
    sink.flush();
}

TEST(LogSink, UnopenableFileIsAConfigError) {
    EXPECT_THROW(detail::log_sink("/nonexistent-dir/x/y.log"), config_error);
}

} // namespace
} // namespace aignehub
