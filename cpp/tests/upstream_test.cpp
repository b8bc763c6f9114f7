#include "upstream/address.hpp"
#include "upstream/url.hpp"

#include <gtest/gtest.h>

namespace aignehub::upstream {
namespace {

using boost::asio::ip::make_address;

TEST(BaseUrl, TakesApartWhatAProviderUrlMayHold) {
    std::string why;
    const auto u = parse_base_url("HTTPS://API.OpenAI.com/v1/", why);
    ASSERT_TRUE(u) << why;
    EXPECT_EQ(u->scheme, "https");
    EXPECT_EQ(u->host, "api.openai.com");
    EXPECT_EQ(u->port, 443);
    EXPECT_EQ(u->path, "/v1");
    EXPECT_EQ(u->text(), "https://api.openai.com/v1");

    const auto v6 = parse_base_url("http://[::1]:11434", why);
    ASSERT_TRUE(v6) << why;
    EXPECT_TRUE(v6->ipv6_literal);
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->host_header(), "[::1]:11434");
}

TEST(BaseUrl, RefusesWhatCouldSmuggleOrLeak) {
    for (const char* bad :
         {"", "api.openai.com", "ftp://x.com", "https://user:pw@x.com", "https://x.com/?a=1",
          "https://x.com/#f", "https://x.com/a b", "https://x.com/\r\nHost: y", "https://:443",
          "https://x.com:0", "https://x.com:70000", "https://x.com:12ab", "https://[::1",
          "https://x!.com"}) {
        std::string why;
        EXPECT_FALSE(parse_base_url(bad, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
        EXPECT_EQ(why.find("pw"), std::string::npos) << "the reason repeats the URL";
    }
    std::string why;
    EXPECT_FALSE(parse_base_url(std::string_view("https://x.com/\0", 15), why));
}

TEST(BaseUrl, HeaderBreakers) {
    EXPECT_TRUE(breaks_header("a\rb"));
    EXPECT_TRUE(breaks_header("a\nb"));
    EXPECT_TRUE(breaks_header(std::string_view("a\0b", 3)));
    EXPECT_FALSE(breaks_header("sk-abc_123"));
}

TEST(Address, ClassifiesTheRangesRequestForgeryAimsAt) {
    EXPECT_EQ(classify(make_address("8.8.8.8")), address_class::global);
    EXPECT_EQ(classify(make_address("127.0.0.1")), address_class::loopback);
    EXPECT_EQ(classify(make_address("10.1.2.3")), address_class::private_network);
    EXPECT_EQ(classify(make_address("172.31.255.1")), address_class::private_network);
    EXPECT_EQ(classify(make_address("192.168.0.1")), address_class::private_network);
    EXPECT_EQ(classify(make_address("100.64.0.1")), address_class::private_network);
    EXPECT_EQ(classify(make_address("169.254.1.1")), address_class::link_local);
    EXPECT_EQ(classify(make_address("169.254.169.254")), address_class::metadata);
    EXPECT_EQ(classify(make_address("0.0.0.0")), address_class::unspecified);
    EXPECT_EQ(classify(make_address("224.0.0.1")), address_class::multicast);
    EXPECT_EQ(classify(make_address("::1")), address_class::loopback);
    EXPECT_EQ(classify(make_address("fd12::1")), address_class::private_network);
    EXPECT_EQ(classify(make_address("fe80::1")), address_class::link_local);
    EXPECT_EQ(classify(make_address("fd00:ec2::254")), address_class::metadata);
    EXPECT_EQ(classify(make_address("::ffff:127.0.0.1")), address_class::loopback);
    EXPECT_EQ(classify(make_address("::ffff:169.254.169.254")), address_class::metadata);
    EXPECT_EQ(classify(make_address("2606:4700::1")), address_class::global);
}

TEST(Address, OnlyLocalProvidersReachThisMachineAndItsNetwork) {
    for (const char* a : {"127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fe80::1"}) {
        EXPECT_FALSE(may_connect(make_address(a), false)) << a;
        EXPECT_TRUE(may_connect(make_address(a), true)) << a;
    }
    for (const char* a : {"0.0.0.0", "224.0.0.1", "::"}) {
        EXPECT_FALSE(may_connect(make_address(a), true)) << a;
    }
    EXPECT_TRUE(may_connect(make_address("1.1.1.1"), false));
}

} // namespace
} // namespace aignehub::upstream
