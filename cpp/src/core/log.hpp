#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace aignehub::detail {

/// A line-oriented log destination with a background flusher: callers on the data plane append
/// to a memory buffer under a short lock and never wait on the disk or the terminal.
class log_sink {
public:
    /// "-" writes to standard error, "" discards, anything else is a file opened for appending
    /// (created with mode 0600). Throws config_error when the file cannot be opened.
    explicit log_sink(const std::string& destination);
    ~log_sink();
    log_sink(const log_sink&) = delete;
    log_sink& operator=(const log_sink&) = delete;
    log_sink(log_sink&&) = delete;
    log_sink& operator=(log_sink&&) = delete;

    [[nodiscard]] bool enabled() const noexcept { return fd_ >= 0; }
    /// Appends `line` and a newline.
    void write(std::string_view line);
    /// Writes out everything buffered so far before returning.
    void flush();

private:
    void run();
    void drain();

    int fd_ = -1;
    bool owns_fd_ = false;
    std::mutex mu_;
    std::condition_variable wake_;
    std::mutex write_mu_;
    std::string pending_;
    bool stopping_ = false;
    std::thread flusher_;
};

/// Appends `text` as a JSON string literal (quotes included). Control characters are escaped
/// and invalid UTF-8 is replaced by U+FFFD, so any bytes make a valid JSON line.
void append_json_string(std::string& out, std::string_view text);

/// Appends an RFC 3339 UTC timestamp with milliseconds, e.g. 2026-11-26T04:02:28.123Z.
void append_timestamp(std::string& out, std::chrono::system_clock::time_point when);

/// One structured event line: {"time":...,"level":...,"msg":...} plus `extra`, which must be
/// empty or a comma-led run of JSON members such as `,"port":8080`.
[[nodiscard]] std::string event_line(std::string_view level, std::string_view msg,
                                     std::string_view extra = {});

} // namespace aignehub::detail
