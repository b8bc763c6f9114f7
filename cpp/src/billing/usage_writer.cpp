#include "billing/usage_writer.hpp"

#include <chrono>

namespace aignehub::billing {

usage_writer::usage_writer(std::shared_ptr<store> db, bool fsync, std::size_t max_batch)
    : db_(std::move(db)), fsync_(fsync), max_batch_(max_batch == 0 ? 1 : max_batch),
      thread_([this] { run(); }) {}

usage_writer::~usage_writer() {
    {
        const std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

void usage_writer::submit(usage_row row, done_fn done) {
    {
        const std::lock_guard lock(mu_);
        queue_.push_back({std::move(row), std::move(done)});
    }
    wake_.notify_one();
}

usage_writer::counters usage_writer::written() const noexcept {
    return {records_.load(), batches_.load(), failed_.load()};
}

// A failed transaction leaves nothing behind, so the same batch can be tried again; a short
// growing pause rides out a database busy with another process.
bool usage_writer::commit(const std::vector<pending>& batch) {
    std::vector<usage_row> rows;
    rows.reserve(batch.size());
    for (const auto& p : batch) {
        rows.push_back(p.row);
    }
    auto pause = std::chrono::milliseconds(10);
    for (int attempt = 0; attempt < 4; ++attempt) {
        try {
            db_->insert_usage(rows, fsync_);
            return true;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(pause);
            pause *= 4;
        }
    }
    return false;
}

void usage_writer::run() {
    std::vector<pending> batch;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) {
                return; // stopping, and everything submitted is written
            }
            if (queue_.size() <= max_batch_) {
                batch.swap(queue_);
            } else {
                const auto split = queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_);
                batch.assign(std::make_move_iterator(queue_.begin()),
                             std::make_move_iterator(split));
                queue_.erase(queue_.begin(), split);
            }
        }
        const bool durable = commit(batch);
        if (durable) {
            records_ += batch.size();
            ++batches_;
        } else {
            failed_ += batch.size();
        }
        for (auto& p : batch) {
            if (p.done) {
                p.done(durable);
            }
        }
        batch.clear();
    }
}

} // namespace aignehub::billing
