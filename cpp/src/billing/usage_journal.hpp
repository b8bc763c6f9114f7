#pragma once

#include "aignehub/store.hpp"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>

namespace aignehub::billing {

/// An append-only file of usage records, for usage_sync "normal": the connection's own thread
/// appends a record with one write() (the operating system then has it: it survives a crash or
/// kill -9 of the process) and answers at once, without waiting on another thread; the usage
/// writer moves the records into the database in batches and empties the file when all of it
/// is in. A process holds its journal with an exclusive flock; journals nobody holds were left
/// by a crash and are imported by recover_journals() when the hub opens.
///
/// Lines are JSON objects: {"seq":N, the record's fields}. A torn last line (the crash came
/// mid-write, before that answer could finish) is skipped.
class usage_journal {
public:
    /// Creates `<dir>/usage-<random>.journal` (mode 0600) and locks it.
    explicit usage_journal(const std::filesystem::path& dir);
    /// Closes the file, and deletes it when everything in it was imported (else it stays for
    /// recover_journals).
    ~usage_journal();
    usage_journal(const usage_journal&) = delete;
    usage_journal& operator=(const usage_journal&) = delete;
    usage_journal(usage_journal&&) = delete;
    usage_journal& operator=(usage_journal&&) = delete;

    /// The key its import progress is stored under in the settings.
    [[nodiscard]] const std::string& id() const noexcept { return id_; }

    /// Appends `row` and calls then(seq) under the journal's lock, so that whatever `then`
    /// queues is in sequence order. Throws store_error when the write fails.
    template <class Fn> void append(const usage_row& row, Fn&& then) {
        const std::string fields = fields_of(row); // formatted outside the lock
        const std::lock_guard lock(mu_);
        const std::uint64_t seq = last_ + 1;
        write_line(seq, fields);
        last_ = seq;
        then(seq);
    }

    /// Empties the file when every record appended so far is at most `imported`.
    void truncate_if_imported(std::uint64_t imported);

    /// The setting holding a journal's import progress (the last sequence number imported).
    [[nodiscard]] static std::string progress_setting(const std::string& id);

private:
    /// `"request_id":...}` and a newline: a line without its leading `{"seq":N,`.
    [[nodiscard]] static std::string fields_of(const usage_row& row);
    void write_line(std::uint64_t seq, const std::string& fields);

    std::filesystem::path path_;
    std::string id_;
    int fd_ = -1;
    std::mutex mu_;
    std::uint64_t last_ = 0;
    std::uint64_t imported_ = 0;
};

/// Imports the records of the journals in `dir` that no process holds (left by a crash) and
/// deletes them; answers how many records it imported. Records already imported (the
/// progress setting) are not imported twice.
std::size_t recover_journals(store& db, const std::filesystem::path& dir);

} // namespace aignehub::billing
