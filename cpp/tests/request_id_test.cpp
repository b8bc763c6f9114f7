#include "http/request_id.hpp"

#include <gtest/gtest.h>

#include <set>

namespace aignehub::http {
namespace {

TEST(RequestId, GeneratedIdsAreValidAndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string id = new_request_id();
        EXPECT_EQ(id.size(), 32U);
        EXPECT_TRUE(valid_request_id(id));
        EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
        seen.insert(id);
    }
    EXPECT_EQ(seen.size(), 1000U);
}

TEST(RequestId, KeepsOrdinaryIncomingIds) {
    EXPECT_TRUE(valid_request_id("req-123"));
    EXPECT_TRUE(valid_request_id("0f8fad5b-d9cb-469f-a165-70867728950e"));
    EXPECT_TRUE(valid_request_id("trace:abc/def+ghi=."));
    EXPECT_TRUE(valid_request_id(std::string(max_request_id_length, 'a')));
}

TEST(RequestId, RefusesIdsThatCouldBreakLogsOrHeaders) {
    EXPECT_FALSE(valid_request_id(""));
    EXPECT_FALSE(valid_request_id(std::string(max_request_id_length + 1, 'a')));
    EXPECT_FALSE(valid_request_id("a b"));
    EXPECT_FALSE(valid_request_id("a\"b"));
    EXPECT_FALSE(valid_request_id("a\r\nx: y"));
    EXPECT_FALSE(valid_request_id(std::string_view("a\0b", 3)));
    EXPECT_FALSE(valid_request_id("caf\xc3\xa9"));
}

} // namespace
} // namespace aignehub::http
