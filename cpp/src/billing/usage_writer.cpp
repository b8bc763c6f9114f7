#include "billing/usage_writer.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>

namespace aignehub::billing {

namespace {
// Journal mode imports at least this often, or as soon as this many records wait.
constexpr auto import_interval = std::chrono::milliseconds(50);
constexpr std::size_t import_threshold = 256;
} // namespace

usage_writer::usage_writer(std::shared_ptr<store> db, bool fsync, std::size_t max_batch,
                           const std::optional<std::filesystem::path>& journal_dir)
    : db_(std::move(db)),
      journal_(!fsync && journal_dir ? std::make_unique<usage_journal>(*journal_dir) : nullptr),
      fsync_(fsync), max_batch_(max_batch == 0 ? 1 : max_batch), thread_([this] { run(); }) {}

usage_writer::~usage_writer() {
    stop();
}

void usage_writer::stop() {
    {
        const std::lock_guard lock(mu_);
        stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) {
        thread_.join();
    }
    journal_.reset();
}

void usage_writer::submit(usage_row row, done_fn done) {
    {
        const std::lock_guard lock(mu_);
        queue_.push_back({std::move(row), std::move(done)});
    }
    wake_.notify_one();
}

bool usage_writer::write_now(usage_row row) {
    if (!journal_) {
        return false; // stopped
    }
    bool wake = false;
    try {
        journal_->append(row, [&](std::uint64_t seq) {
            const std::lock_guard lock(mu_);
            queue_.push_back({std::move(row), nullptr, seq});
            wake = queue_.size() == import_threshold;
        });
    } catch (const std::exception&) {
        failed_ += 1;
        return false;
    }
    if (wake) {
        wake_.notify_one();
    }
    return true;
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
    std::optional<usage_progress> progress;
    if (journal_) {
        progress =
            usage_progress{usage_journal::progress_setting(journal_->id()), batch.back().seq};
    }
    auto pause = std::chrono::milliseconds(10);
    for (int attempt = 0; attempt < 4; ++attempt) {
        try {
            db_->insert_usage(rows, fsync_, progress);
            if (journal_) {
                journal_->truncate_if_imported(batch.back().seq);
            }
            return true;
        } catch (const std::exception&) {
            std::this_thread::sleep_for(pause);
            pause *= 4;
        }
    }
    return false;
}

void usage_writer::run() {
    if (journal_) {
        // Answers no longer wait for this thread: importing is background work, and on a busy
        // core it should yield to the connections' threads at once (nice 10 still leaves it
        // about a tenth of a saturated core, several times what importing needs).
        [[maybe_unused]] const int ignored =
            ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);
    }
    std::vector<pending> batch;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            if (journal_) {
                // The journal already keeps the records: import them in batches.
                wake_.wait_for(lock, import_interval,
                               [this] { return stopping_ || queue_.size() >= import_threshold; });
            } else {
                wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            }
            if (queue_.empty()) {
                if (stopping_) {
                    return; // everything submitted is written
                }
                continue;
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
        if (!durable && journal_) {
            // The journal still holds them: try again later, in order. A writer stopping on a
            // broken database leaves them there for recover_journals.
            const std::lock_guard lock(mu_);
            if (!stopping_) {
                queue_.insert(queue_.begin(), std::make_move_iterator(batch.begin()),
                              std::make_move_iterator(batch.end()));
                batch.clear();
                continue;
            }
        }
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
