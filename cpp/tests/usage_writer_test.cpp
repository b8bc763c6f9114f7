#include "aignehub/store.hpp"
#include "billing/usage_writer.hpp"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace aignehub::billing {
namespace {

class UsageWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("aignehub-usage-" + std::to_string(std::random_device{}()));
        std::filesystem::create_directories(dir_);
        db_ = open_sqlite_store(path());
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    [[nodiscard]] std::string path() const { return (dir_ / "u.db").string(); }

    static usage_row record(int n) {
        usage_row r;
        r.request_id = "req-" + std::to_string(n);
        r.provider = "openai";
        r.model_requested = "openai/gpt-4o-mini";
        r.model_served = "gpt-4o-mini";
        r.prompt_tokens = n;
        r.status = 200;
        r.created_at = "2026-11-26T00:00:00.000Z";
        return r;
    }

    std::filesystem::path dir_;
    std::shared_ptr<store> db_;
};

TEST_F(UsageWriterTest, RecordsFinishingTogetherShareOneCommit) {
    std::atomic<int> durable{0};
    {
        usage_writer writer(db_);
        // Another connection holds the write lock, so the writer's first commit waits (busy
        // timeout) while the rest queue up: they must then go in one transaction.
        SQLite::Database other(path(), SQLite::OPEN_READWRITE);
        other.exec("BEGIN IMMEDIATE");
        std::vector<std::thread> clients;
        for (int t = 0; t < 4; ++t) {
            clients.emplace_back([&writer, &durable, t] {
                for (int i = 0; i < 250; ++i) {
                    writer.submit(record(t * 1000 + i), [&durable](bool ok) {
                        if (ok) {
                            ++durable;
                        }
                    });
                }
            });
        }
        for (auto& c : clients) {
            c.join();
        }
        other.exec("ROLLBACK");
        while (writer.written().records < 1000) {
            std::this_thread::yield();
        }
        EXPECT_LE(writer.written().batches, 2U);
    }
    EXPECT_EQ(durable.load(), 1000);
    EXPECT_EQ(db_->count_usage(), 1000);
}

TEST_F(UsageWriterTest, DoneMeansAnotherConnectionCanReadIt) {
    std::atomic<int> seen{-1};
    {
        usage_writer writer(db_);
        writer.submit(record(7), [this, &seen](bool ok) {
            SQLite::Database reader(path(), SQLite::OPEN_READONLY);
            seen = ok ? reader
                            .execAndGet("SELECT prompt_tokens FROM usage_records WHERE "
                                        "request_id = 'req-7'")
                            .getInt()
                      : -2;
        });
    }
    EXPECT_EQ(seen.load(), 7);
}

TEST_F(UsageWriterTest, StoppingWritesEverythingAlreadySubmitted) {
    std::atomic<int> durable{0};
    {
        usage_writer writer(db_, true, 16);
        for (int i = 0; i < 100; ++i) {
            writer.submit(record(i), [&durable](bool ok) { durable += ok ? 1 : 0; });
        }
    }
    EXPECT_EQ(durable.load(), 100);
    EXPECT_EQ(db_->count_usage(), 100);
}

TEST_F(UsageWriterTest, AFailedWriteIsReportedNotSwallowed) {
    {
        SQLite::Database raw(path(), SQLite::OPEN_READWRITE);
        raw.exec("DROP TABLE usage_records");
    }
    std::atomic<int> outcome{0};
    usage_writer::counters after;
    {
        usage_writer writer(db_);
        writer.submit(record(1), [&outcome](bool ok) { outcome = ok ? 1 : -1; });
        while (outcome.load() == 0) {
            std::this_thread::yield();
        }
        after = writer.written();
    }
    EXPECT_EQ(outcome.load(), -1);
    EXPECT_EQ(after.failed, 1U);
    EXPECT_EQ(after.records, 0U);
}

TEST_F(UsageWriterTest, JournalledRecordsAreWrittenOnTheCallersThreadAndImported) {
    {
        usage_writer writer(db_, false, 1024, dir_);
        ASSERT_TRUE(writer.immediate());
        for (int n = 1; n <= 300; ++n) {
            ASSERT_TRUE(writer.write_now(record(n)));
        }
    } // stopping imports what is left and removes the emptied journal
    EXPECT_EQ(db_->count_usage(), 300);
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
        EXPECT_FALSE(entry.path().extension() == ".journal") << entry.path();
    }
}

TEST_F(UsageWriterTest, AJournalLeftByACrashIsImportedOnceAndTornLinesSkipped) {
    std::filesystem::path file;
    {
        usage_journal journal(dir_);
        file = journal.segments().front();
        for (int n = 1; n <= 3; ++n) {
            journal.append(record(n), [](std::uint64_t) {});
        }
        // The first record was imported before the crash; the journal says so.
        db_->insert_usage({record(1)}, true,
                          usage_progress{usage_journal::progress_setting(journal.id()), 1});
        journal.truncate_if_imported(1);
        // A running process holds its journal: recovery leaves it alone.
        EXPECT_EQ(recover_journals(*db_, dir_), 0U);
    } // not all imported: the file stays, unlocked, as after a crash
    ASSERT_TRUE(std::filesystem::exists(file));
    {
        std::ofstream torn(file, std::ios::app);
        torn << R"({"seq":4,"request_id":"req-4","sta)";
    }

    EXPECT_EQ(recover_journals(*db_, dir_), 2U);
    EXPECT_EQ(recover_journals(*db_, dir_), 0U);
    EXPECT_FALSE(std::filesystem::exists(file));
    usage_filter all;
    std::vector<std::string> ids;
    for (const auto& row : db_->query_usage(all)) {
        ids.push_back(row.request_id);
    }
    EXPECT_EQ(ids, (std::vector<std::string>{"req-3", "req-2", "req-1"}));
}

TEST_F(UsageWriterTest, AJournalUnderSteadyTrafficMovesToNewSegmentsAndDropsImportedOnes) {
    std::vector<std::filesystem::path> kept;
    {
        usage_journal journal(dir_, 600); // a few records per segment
        std::uint64_t last = 0;
        for (int n = 1; n <= 12; ++n) {
            journal.append(record(n), [&](std::uint64_t seq) { last = seq; });
            // The importer always lags one record behind: the file is never all imported.
            journal.truncate_if_imported(last - 1);
        }
        const auto segments = journal.segments();
        EXPECT_GE(segments.size(), 2U);
        EXPECT_LE(segments.size(), 3U); // imported segments were deleted along the way
        db_->insert_usage({record(1), record(2), record(3), record(4), record(5), record(6),
                           record(7), record(8), record(9), record(10), record(11)},
                          true, usage_progress{usage_journal::progress_setting(journal.id()), 11});
        kept = journal.segments();
    } // record 12 was never imported: its segment stays, as after a crash
    std::size_t left = 0;
    for (const auto& path : kept) {
        left += std::filesystem::exists(path) ? 1U : 0U;
    }
    EXPECT_EQ(left, 1U);
    EXPECT_EQ(recover_journals(*db_, dir_), 1U);
    EXPECT_EQ(db_->count_usage(), 12);
}

} // namespace
} // namespace aignehub::billing
