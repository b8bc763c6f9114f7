#include "aignehub/crypto.hpp"
#include "aignehub/store.hpp"
#include "auth/keys.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <thread>

namespace aignehub::auth {
namespace {

using namespace std::chrono_literals;

std::array<std::uint8_t, 32> some_pepper() {
    std::array<std::uint8_t, 32> p{};
    const auto r = crypto::random_bytes(32);
    std::copy(r.begin(), r.end(), p.begin());
    return p;
}

TEST(AccessKey, GeneratedKeysHaveTheDocumentedShape) {
    const new_key k = generate_key();
    EXPECT_TRUE(well_formed(k.text)) << k.text;
    EXPECT_EQ(k.text.substr(4, 12), k.prefix);
    EXPECT_EQ(k.text.substr(k.text.size() - 4), k.last4);
    EXPECT_NE(generate_key().text, k.text);
}

TEST(AccessKey, MalformedKeysAreRecognisedWithoutHashing) {
    std::string k = generate_key().text;
    EXPECT_FALSE(well_formed(""));
    EXPECT_FALSE(well_formed("sk-" + k.substr(3)));
    EXPECT_FALSE(well_formed(k + "x"));
    EXPECT_FALSE(well_formed(k.substr(0, k.size() - 1)));
    EXPECT_FALSE(well_formed("ahk_' OR 1=1 --" + std::string(45, 'a')));
    k[20] = '!';
    EXPECT_FALSE(well_formed(k));
}

TEST(AccessKey, PreparedHmacMatchesTheReference) {
    const auto pepper = some_pepper();
    const authenticator keys(pepper);
    for (const std::string& message :
         {std::string(), std::string("a"), generate_key().text, std::string(1000, 'x')}) {
        EXPECT_EQ(keys.digest(message), crypto::hmac_sha256(pepper, message));
    }
}

TEST(ModelAllowlist, ExactNamesAndProviderWildcards) {
    EXPECT_TRUE(model_allowed({}, "anything"));
    const std::vector<std::string> allow{"openai/*", "anthropic/claude-haiku-4-5"};
    EXPECT_TRUE(model_allowed(allow, "openai/gpt-4o-mini"));
    EXPECT_TRUE(model_allowed(allow, "anthropic/claude-haiku-4-5"));
    EXPECT_FALSE(model_allowed(allow, "anthropic/claude-opus-4-6"));
    EXPECT_FALSE(model_allowed(allow, "openai/"));
    EXPECT_FALSE(model_allowed(allow, "openaix/gpt"));
    EXPECT_FALSE(model_allowed(allow, "gpt-4o-mini"));
}

TEST(Times, ParseAndFormatRoundTrip) {
    const auto t = parse_time("2027-01-31T12:34:56.789Z");
    ASSERT_TRUE(t);
    EXPECT_EQ(format_time(*t), "2027-01-31T12:34:56.789Z");
    EXPECT_EQ(format_time(*parse_time("2027-01-31T12:34:56Z")), "2027-01-31T12:34:56.000Z");
    for (const char* bad : {"2027-01-31", "2027-01-31T12:34:56", "2027-13-01T00:00:00Z",
                            "2027-01-31T12:34:56+01:00", "2027-01-31T12:34:56.Z", "soon"}) {
        EXPECT_FALSE(parse_time(bad)) << bad;
    }
}

TEST(KeyRuntime, RequestsPerMinuteIsATokenBucket) {
    key_runtime r;
    const auto t0 = clock::now();
    EXPECT_FALSE(r.take_request(2, t0));
    EXPECT_FALSE(r.take_request(2, t0));
    const auto wait = r.take_request(2, t0);
    ASSERT_TRUE(wait);
    EXPECT_EQ(wait->count(), 30);
    EXPECT_FALSE(r.take_request(2, t0 + 31s)) << "one request refilled after 30 s";
}

TEST(KeyRuntime, TokensPerMinuteBlocksOnceSpent) {
    key_runtime r;
    const auto t0 = clock::now();
    EXPECT_FALSE(r.token_wait(600, t0));
    r.spend_tokens(900, 600, t0);
    const auto wait = r.token_wait(600, t0);
    ASSERT_TRUE(wait);
    EXPECT_EQ(wait->count(), 31);
    EXPECT_FALSE(r.token_wait(600, t0 + 31s));
}

class AuthenticatorTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("aignehub-auth-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
        db_ = open_sqlite_store(dir_ / "a.db");
        user_row u;
        u.display_name = "u";
        user_ = db_->insert_user(u);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    std::string add_key(std::optional<std::string> expires = std::nullopt) {
        const new_key k = generate_key();
        access_key_row row;
        row.user_id = user_.id;
        row.name = "k";
        row.prefix = k.prefix;
        row.last4 = k.last4;
        const auto d = keys_.digest(k.text);
        row.digest.assign(d.begin(), d.end());
        row.expires_at = std::move(expires);
        last_ = db_->insert_access_key(row);
        keys_.rebuild(*db_);
        return k.text;
    }

    std::filesystem::path dir_;
    std::unique_ptr<store> db_;
    user_row user_;
    access_key_row last_;
    authenticator keys_{some_pepper()};
};

TEST_F(AuthenticatorTest, VerifiesFromTheSnapshotAndFollowsRevocationAndDisabling) {
    const std::string key = add_key();
    const auto now = clock::now();
    const auto ok = keys_.verify(key, now);
    ASSERT_EQ(ok.what, verdict::ok);
    EXPECT_EQ(ok.who->user_id, user_.id);
    std::string altered = key;
    altered.back() = altered.back() == 'A' ? 'B' : 'A';
    EXPECT_EQ(keys_.verify(altered, now).what, verdict::unknown);
    EXPECT_EQ(keys_.verify("", now).what, verdict::missing);
    EXPECT_EQ(keys_.verify("nope", now).what, verdict::malformed);

    user_.disabled = true;
    db_->update_user(user_);
    keys_.rebuild(*db_);
    EXPECT_EQ(keys_.verify(key, now).what, verdict::unknown);
    user_.disabled = false;
    db_->update_user(user_);
    keys_.rebuild(*db_);
    EXPECT_EQ(keys_.verify(key, now).what, verdict::ok);

    last_.revoked_at = format_time(now);
    db_->update_access_key(last_);
    keys_.rebuild(*db_);
    EXPECT_EQ(keys_.verify(key, now).what, verdict::unknown);
}

TEST_F(AuthenticatorTest, ExpiredKeysStopAtTheirTime) {
    const auto now = clock::now();
    const std::string key = add_key(format_time(now + 10s));
    EXPECT_EQ(keys_.verify(key, now).what, verdict::ok);
    EXPECT_EQ(keys_.verify(key, now + 11s).what, verdict::expired);
}

TEST_F(AuthenticatorTest, LastUseIsFlushedOffThePath) {
    const std::string key = add_key();
    const auto when = clock::now();
    ASSERT_EQ(keys_.verify(key, when).what, verdict::ok);
    EXPECT_FALSE(db_->find_access_key(last_.id)->last_used_at);
    keys_.flush_last_used(*db_);
    EXPECT_EQ(db_->find_access_key(last_.id)->last_used_at, format_time(when));
}

// Readers verify while a writer rebuilds the snapshot: under TSan this is what would show a
// race between the hot path and the control plane.
TEST_F(AuthenticatorTest, VerifyingWhileRebuildingIsSafe) {
    const std::string key = add_key();
    std::atomic<bool> done{false};
    std::atomic<int> verified{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) {
        readers.emplace_back([&] {
            while (!done) {
                const auto v = keys_.verify(key, clock::now());
                if (v.what == verdict::ok && v.who->user_id == user_.id) {
                    ++verified;
                }
            }
        });
    }
    // Rebuild until the readers have verified a good many times alongside (a hang guard, not a
    // timing): a fixed count of rebuilds could finish before a reader even starts.
    const auto give_up = std::chrono::steady_clock::now() + 30s;
    for (int rebuilt = 0;
         (rebuilt < 20 || verified.load() < 200) && std::chrono::steady_clock::now() < give_up;
         ++rebuilt) {
        keys_.rebuild(*db_);
    }
    done = true;
    for (auto& t : readers) {
        t.join();
    }
    EXPECT_GE(verified.load(), 200);
    keys_.flush_last_used(*db_);
    EXPECT_TRUE(db_->find_access_key(last_.id)->last_used_at);
}

} // namespace
} // namespace aignehub::auth
