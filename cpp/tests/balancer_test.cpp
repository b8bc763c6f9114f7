#include "routing/balancer.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace aignehub::routing {
namespace {

using namespace std::chrono_literals;

std::string sequence(credential_balancer& b, int n, clock::time_point now) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        const auto id = b.pick(now);
        out.push_back(id ? static_cast<char>('a' + *id) : '-');
    }
    return out;
}

TEST(Balancer, SmoothWeightedRoundRobinSpreadsPicksByWeight) {
    credential_balancer b;
    b.reset({{0, 5}, {1, 1}, {2, 1}});
    // nginx's documented sequence for weights 5, 1, 1: the heavy peer is never picked in a row
    // more than twice, the light ones are spread out.
    EXPECT_EQ(sequence(b, 7, clock::now()), "aabacaa");
    std::map<char, int> counts;
    for (const char c : sequence(b, 700, clock::now())) {
        ++counts[c];
    }
    EXPECT_EQ(counts['a'], 500);
    EXPECT_EQ(counts['b'], 100);
    EXPECT_EQ(counts['c'], 100);
}

TEST(Balancer, ARateLimitedCredentialSitsOutItsCoolDown) {
    credential_balancer b;
    b.reset({{0, 100}, {1, 100}});
    const auto now = clock::now();
    b.rate_limited(0, now + 30s);
    EXPECT_EQ(sequence(b, 4, now), "bbbb");
    b.rate_limited(1, now + 10s);
    EXPECT_EQ(sequence(b, 1, now), "-");
    EXPECT_EQ(b.next_available(), now + 10s) << "what a retry-after would say";
    EXPECT_EQ(sequence(b, 2, now + 11s), "bb");
    EXPECT_NE(sequence(b, 4, now + 31s).find('a'), std::string::npos);
}

TEST(Balancer, ARefusedKeyIsDisabledUntilARetestSucceeds) {
    credential_balancer b;
    b.reset({{0, 100}, {1, 100}});
    const auto now = clock::now();
    b.rejected(0, now);
    EXPECT_EQ(sequence(b, 3, now + 1h), "bbb") << "disabled, not just cooling down";
    EXPECT_TRUE(b.due_for_retest(now + 5s).empty());
    EXPECT_EQ(b.due_for_retest(now + 6s), std::vector<std::int64_t>{0}) << "5 + 2^0 s";
    b.rejected(0, now + 6s);
    EXPECT_TRUE(b.due_for_retest(now + 6s + 6s).empty());
    EXPECT_EQ(b.due_for_retest(now + 6s + 7s), std::vector<std::int64_t>{0}) << "5 + 2^1 s";
    b.succeeded(0);
    EXPECT_NE(sequence(b, 4, now).find('a'), std::string::npos);
}

TEST(Balancer, NothingUsableIsNullAndStateSurvivesAReset) {
    credential_balancer b;
    const auto now = clock::now();
    EXPECT_FALSE(b.pick(now)) << "no credentials";
    b.reset({{0, 100}});
    b.rejected(0, now);
    EXPECT_FALSE(b.pick(now));
    b.reset({{0, 50}, {1, 0}});
    EXPECT_FALSE(b.pick(now)) << "still disabled after the reset; weight 0 is never picked";
    b.reset({{2, 10}});
    EXPECT_EQ(b.pick(now), 2);
}

} // namespace
} // namespace aignehub::routing

namespace aignehub::routing {
namespace {

TEST(Balancer, ARetrySkipsTheCredentialsTheRequestTried) {
    credential_balancer b;
    b.reset({{1, 100}, {2, 1}});
    const auto now = clock::now();
    EXPECT_EQ(b.pick(now), 1);
    // The heavy credential would win again; the retry excludes it.
    EXPECT_EQ(b.pick(now, {1}), 2);
    EXPECT_EQ(b.pick(now, {1, 2}), std::nullopt);
}

} // namespace
} // namespace aignehub::routing
