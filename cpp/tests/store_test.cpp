#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace aignehub {
namespace {

class StoreTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("aignehub-store-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    [[nodiscard]] std::filesystem::path db() const { return dir_ / "aignehub.db"; }

    std::filesystem::path dir_;
};

TEST_F(StoreTest, NewDatabaseIsMigratedToTheLatestVersionInWalMode) {
    auto s = open_sqlite_store(db());
    EXPECT_EQ(s->backend(), "sqlite");
    EXPECT_EQ(s->schema_version(), latest_schema_version());
    EXPECT_NO_THROW(s->ping());
    SQLite::Database raw(db().string(), SQLite::OPEN_READONLY);
    EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "wal");
    EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(),
              latest_schema_version());
}

TEST_F(StoreTest, ReopeningAppliesNothingTwiceAndKeepsData) {
    {
        auto s = open_sqlite_store(db());
        s->put_setting("mode", "in-house");
        s->put_setting("mode", "service-provider");
    }
    auto s = open_sqlite_store(db());
    EXPECT_EQ(s->get_setting("mode", "none"), "service-provider");
    EXPECT_EQ(s->get_setting("absent", "fallback"), "fallback");
    SQLite::Database raw(db().string(), SQLite::OPEN_READONLY);
    EXPECT_EQ(raw.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt(),
              latest_schema_version());
}

TEST_F(StoreTest, NewerSchemaIsRefusedAndLeftUntouched) {
    { auto s = open_sqlite_store(db()); }
    const int newer = latest_schema_version() + 1;
    {
        SQLite::Database raw(db().string(), SQLite::OPEN_READWRITE);
        raw.exec("INSERT INTO schema_migrations (version, name) VALUES (" + std::to_string(newer) +
                 ", 'from the future')");
    }
    try {
        auto s = open_sqlite_store(db());
        FAIL() << "a newer schema was opened";
    } catch (const schema_version_error& e) {
        EXPECT_EQ(e.found(), newer);
        EXPECT_EQ(e.known(), latest_schema_version());
        EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos);
    }
    SQLite::Database raw(db().string(), SQLite::OPEN_READONLY);
    EXPECT_EQ(raw.execAndGet("SELECT MAX(version) FROM schema_migrations").getInt(), newer);
}

TEST_F(StoreTest, NotADatabaseIsAStoreError) {
    {
        std::FILE* f = std::fopen(db().c_str(), "wb");
        ASSERT_NE(f, nullptr);
        const std::string junk(4096, 'x');
        std::fwrite(junk.data(), 1, junk.size(), f);
        std::fclose(f);
    }
    EXPECT_THROW({ auto s = open_sqlite_store(db()); }, store_error);
}

TEST_F(StoreTest, UnwritablePlaceIsAStoreError) {
    EXPECT_THROW({ auto s = open_sqlite_store(dir_ / "missing" / "deeper" / "x.db"); },
                 store_error);
}

} // namespace
} // namespace aignehub
