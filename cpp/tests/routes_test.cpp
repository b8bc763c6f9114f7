#include "aignehub/store.hpp"
#include "routing/routes.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace aignehub::routing {
namespace {

TEST(Routes, SnapshotHoldsEnabledProvidersTheirEnabledCredentialsAndModels) {
    const auto dir = std::filesystem::temp_directory_path() /
                     ("aignehub-routes-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    const auto db = open_sqlite_store(dir / "r.db");
    const auto add_provider = [&](const std::string& name, bool enabled) {
        provider_row p;
        p.name = name;
        p.kind = "openai";
        p.display_name = name;
        p.enabled = enabled;
        return db->insert_provider(p);
    };
    const provider_row on = add_provider("on", true);
    const provider_row off = add_provider("off", false);
    const auto add_credential = [&](const provider_row& p, const std::string& name, bool enabled) {
        credential_row c;
        c.provider_id = p.id;
        c.name = name;
        c.enabled = enabled;
        db->insert_credential(c, [](credential_row& r) {
            r.secret_ciphertext = {1};
            r.wrapped_key = {2};
            r.key_id = "k";
        });
    };
    add_credential(on, "live", true);
    add_credential(on, "paused", false);
    add_credential(off, "elsewhere", true);
    db->replace_provider_models(on.id, {"gpt-b", "gpt-a"});
    db->replace_provider_models(off.id, {"hidden"});

    routes r;
    EXPECT_TRUE(r.current()->by_name.empty());
    r.rebuild(*db);
    const auto snap = r.current();

    ASSERT_EQ(snap->by_name.size(), 1U);
    const auto& entry = *snap->by_name.at("on");
    EXPECT_EQ(entry.base_url, "https://api.openai.com/v1");
    ASSERT_EQ(entry.credentials.size(), 1U);
    EXPECT_EQ(entry.credentials[0].name, "live");
    EXPECT_EQ(snap->model_ids, (std::vector<std::string>{"on/gpt-a", "on/gpt-b"}));
    std::filesystem::remove_all(dir);
}

} // namespace
} // namespace aignehub::routing
