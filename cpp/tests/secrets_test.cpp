#include "providers/catalogue.hpp"
#include "providers/secrets.hpp"

#include <gtest/gtest.h>

#include <set>

namespace aignehub::providers {
namespace {

TEST(Mask, ShowsAtMostFourCharactersOnEachSide) {
    EXPECT_EQ(mask("sk-proj-abcdefghijklmnopqrstuvwxyz0123"), "sk-p...0123");
    EXPECT_EQ(mask("12345678"), "12...78");
    EXPECT_EQ(mask("abc"), "****");
    EXPECT_EQ(mask(""), "");
}

TEST(Scrub, RedactsWordsThatShareSixCharactersWithTheKey) {
    EXPECT_EQ(scrub("Incorrect API key provided: invalid-key. See docs.", "invalid-key"),
              "Incorrect API key provided: [redacted] See docs.");
    EXPECT_EQ(scrub("Your api key: ****-key-1234567 is invalid", "sk-key-1234567"),
              "Your api key: [redacted] is invalid");
    EXPECT_EQ(scrub("rate limited, retry later", "sk-abcdefghijk"), "rate limited, retry later");
    EXPECT_EQ(scrub("anything", ""), "anything");
}

TEST(Catalogue, KnowsEveryProviderTheProductNamesOnce) {
    std::set<std::string_view> kinds;
    for (const auto& k : catalogue()) {
        EXPECT_TRUE(kinds.insert(k.kind).second) << k.kind;
        EXPECT_FALSE(k.check_path.empty()) << k.kind;
        EXPECT_EQ(k.default_base_url.empty(), k.kind == "openai-compatible") << k.kind;
    }
    for (const char* kind : {"openai", "anthropic", "google", "deepseek", "xai", "openrouter",
                             "mistral", "groq", "ollama", "doubao", "openai-compatible"}) {
        EXPECT_NE(find_kind(kind), nullptr) << kind;
    }
    EXPECT_EQ(find_kind("nope"), nullptr);
    EXPECT_EQ(find_kind("anthropic")->auth, auth_style::x_api_key);
    EXPECT_EQ(find_kind("google")->auth, auth_style::x_goog_api_key);
    EXPECT_TRUE(find_kind("ollama")->local_by_default);
}

} // namespace
} // namespace aignehub::providers
