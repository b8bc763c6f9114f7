#pragma once

#include "aignehub/store.hpp"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

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
///
/// Under steady traffic something is always being appended while a batch is imported, so the
/// file could never be emptied: past `segment_bytes` it is retired (kept open and locked) and
/// a new segment started, and a retired segment is deleted once all of it is imported.
/// Segments are `usage-<id>-<n>.journal`, n counting up from 000000.
class usage_journal {
public:
    /// Creates the first segment in `dir` (mode 0600) and locks it.
    explicit usage_journal(const std::filesystem::path& dir,
                           std::uint64_t segment_bytes = 64ULL * 1024 * 1024);
    /// Closes the segments, and deletes them when everything in them was imported (else they
    /// stay for recover_journals).
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

    /// Records that everything up to `imported` is in the database: empties the current
    /// segment when all of it is, deletes retired segments that are, and retires a current
    /// segment grown past its size.
    void truncate_if_imported(std::uint64_t imported);

    /// The segment files that exist now (for tests and diagnostics).
    [[nodiscard]] std::vector<std::filesystem::path> segments() const;

    /// The setting holding a journal's import progress (the last sequence number imported).
    [[nodiscard]] static std::string progress_setting(const std::string& id);

private:
    /// `"request_id":...}` and a newline: a line without its leading `{"seq":N,`.
    [[nodiscard]] static std::string fields_of(const usage_row& row);
    void write_line(std::uint64_t seq, const std::string& fields);
    void open_segment();

    struct segment {
        std::filesystem::path path;
        int fd = -1;
        std::uint64_t last_seq = 0; ///< the last record it holds
    };

    std::filesystem::path dir_;
    std::string id_;
    std::uint64_t segment_bytes_;
    mutable std::mutex mu_;
    segment current_;
    std::uint64_t current_bytes_ = 0;
    unsigned next_number_ = 0;
    std::vector<segment> retired_;
    std::uint64_t last_ = 0;
    std::uint64_t imported_ = 0;
};

/// Imports the records of the journals in `dir` that no process holds (left by a crash) and
/// deletes them; answers how many records it imported. Records already imported (the
/// progress setting) are not imported twice.
std::size_t recover_journals(store& db, const std::filesystem::path& dir);

} // namespace aignehub::billing
