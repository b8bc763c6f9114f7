#pragma once

#include "aignehub/store.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
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

    /// `fsync`: each batch waits for the disk (see server_config::usage_sync).
    explicit usage_writer(std::shared_ptr<store> db, bool fsync = true,
                          std::size_t max_batch = 1024);
    /// Writes everything already submitted, then stops the writer thread.
    ~usage_writer();
    usage_writer(const usage_writer&) = delete;
    usage_writer& operator=(const usage_writer&) = delete;
    usage_writer(usage_writer&&) = delete;
    usage_writer& operator=(usage_writer&&) = delete;

    void submit(usage_row row, done_fn done);

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
    };
    void run();
    bool commit(const std::vector<pending>& batch);

    std::shared_ptr<store> db_;
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
