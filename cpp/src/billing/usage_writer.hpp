#pragma once

#include "aignehub/store.hpp"
#include "billing/usage_journal.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace aignehub::billing {

/// Writes usage records durably by group commit: one writer thread takes everything queued
/// since its last commit and writes it in one transaction, so one fsync covers every request
/// that finished meanwhile. A request's `done` runs once its record is durable; the gateway
/// holds the response's last bytes until then (ARCHITECTURE.md, decision 4).
class usage_writer {
public:
    /// Called on the writer thread: true once the record is durable, false if it could not be
    /// written after retries.
    using done_fn = std::function<void(bool durable)>;

    /// `fsync`: each batch waits for the disk (see server_config::usage_sync). Without fsync and
    /// with a `journal_dir`, records go to a usage journal there (write_now) and are imported
    /// in batches every 50 ms or 256 records.
    explicit usage_writer(std::shared_ptr<store> db, bool fsync = true,
                          std::size_t max_batch = 1024,
                          const std::optional<std::filesystem::path>& journal_dir = std::nullopt);
    /// Writes everything already submitted, then stops the writer thread.
    ~usage_writer();
    /// The same, now (a server stopping); idempotent. Afterwards the journal, if every record
    /// in it reached the database, is gone.
    void stop();
    usage_writer(const usage_writer&) = delete;
    usage_writer& operator=(const usage_writer&) = delete;
    usage_writer(usage_writer&&) = delete;
    usage_writer& operator=(usage_writer&&) = delete;

    void submit(usage_row row, done_fn done);

    /// True when records are written with write_now (a journal), not submit.
    [[nodiscard]] bool immediate() const noexcept { return journal_ != nullptr; }
    /// Appends `row` to the journal on the calling thread: true once it survives a crash of
    /// the process; it reaches the database within about 50 ms.
    [[nodiscard]] bool write_now(usage_row row);

    struct counters {
        std::uint64_t records = 0; ///< written durably
        std::uint64_t batches = 0; ///< transactions committed
        std::uint64_t failed = 0;  ///< records given up on
    };
    [[nodiscard]] counters written() const noexcept;

private:
    struct pending {
        usage_row row;
        done_fn done;
        std::uint64_t seq = 0; ///< its journal line, in journal mode
    };
    void run();
    bool commit(const std::vector<pending>& batch);

    std::shared_ptr<store> db_;
    std::unique_ptr<usage_journal> journal_;
    bool fsync_;
    std::size_t max_batch_;
    std::mutex mu_;
    std::condition_variable wake_;
    std::vector<pending> queue_;
    bool stopping_ = false;
    std::atomic<std::uint64_t> records_{0};
    std::atomic<std::uint64_t> batches_{0};
    std::atomic<std::uint64_t> failed_{0};
    std::thread thread_; // last: started once everything above exists
};

} // namespace aignehub::billing
