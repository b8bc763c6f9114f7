#include "core/log.hpp"

#include "aignehub/errors.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

namespace aignehub::detail {

namespace {

constexpr std::size_t flush_threshold = 64 * 1024;
constexpr auto flush_interval = std::chrono::milliseconds(50);

void write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; // A log that cannot be written must not take the gateway down.
        }
        done += static_cast<std::size_t>(n);
    }
}

// Length of the valid UTF-8 sequence starting at text[i], or 0 when it is not valid.
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
    const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    const unsigned char lead = byte(i);
    std::size_t len = 0;
    unsigned min = 0;
    unsigned cp = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
        cp = lead & 0x1Fu;
        min = 0x80;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        cp = lead & 0x0Fu;
        min = 0x800;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        cp = lead & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (i + len > text.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < len; ++k) {
        const unsigned char c = byte(i + k);
        if ((c & 0xC0u) != 0x80u) {
            return 0;
        }
        cp = (cp << 6u) | (c & 0x3Fu);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return 0;
    }
    return len;
}

} // namespace

log_sink::log_sink(const std::string& destination) {
    if (destination.empty()) {
        return;
    }
    if (destination == "-") {
        fd_ = STDERR_FILENO;
    } else {
        fd_ = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd_ < 0) {
            throw config_error("access_log: cannot open " + destination + ": " +
                               std::strerror(errno));
        }
        owns_fd_ = true;
    }
    flusher_ = std::thread([this] { run(); });
}

log_sink::~log_sink() {
    if (flusher_.joinable()) {
        {
            const std::lock_guard lock(mu_);
            stopping_ = true;
        }
        wake_.notify_one();
        flusher_.join();
    }
    if (owns_fd_) {
        ::close(fd_);
    }
}

void log_sink::write(std::string_view line) {
    if (fd_ < 0) {
        return;
    }
    bool wake = false;
    {
        const std::lock_guard lock(mu_);
        pending_.append(line);
        pending_.push_back('\n');
        wake = pending_.size() >= flush_threshold;
    }
    if (wake) {
        wake_.notify_one();
    }
}

void log_sink::flush() {
    if (fd_ >= 0) {
        drain();
    }
}

// Writes outside mu_ so that writers never wait on the file; write_mu_ is taken first so that
// batches reach the file in the order they were taken.
void log_sink::drain() {
    const std::lock_guard write_lock(write_mu_);
    std::string batch;
    {
        const std::lock_guard lock(mu_);
        batch.swap(pending_);
    }
    write_all(fd_, batch);
}

void log_sink::run() {
    for (;;) {
        bool stop = false;
        {
            std::unique_lock lock(mu_);
            wake_.wait_for(lock, flush_interval,
                           [this] { return stopping_ || pending_.size() >= flush_threshold; });
            stop = stopping_;
        }
        drain();
        if (stop) {
            return;
        }
    }
}

void append_json_string(std::string& out, std::string_view text) {
    static constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                 '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    out.push_back('"');
    for (std::size_t i = 0; i < text.size();) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x80) {
            const std::size_t len = utf8_sequence_length(text, i);
            if (len == 0) {
                out.append("\\ufffd");
                ++i;
            } else {
                out.append(text.substr(i, len));
                i += len;
            }
            continue;
        }
        switch (c) {
        case '"':
            out.append("\\\"");
            break;
        case '\\':
            out.append("\\\\");
            break;
        case '\n':
            out.append("\\n");
            break;
        case '\r':
            out.append("\\r");
            break;
        case '\t':
            out.append("\\t");
            break;
        default:
            if (c < 0x20 || c == 0x7f) {
                out.append("\\u00");
                out.push_back(hex[c >> 4u]);
                out.push_back(hex[c & 0x0Fu]);
            } else {
                out.push_back(static_cast<char>(c));
            }
        }
        ++i;
    }
    out.push_back('"');
}

void append_timestamp(std::string& out, std::chrono::system_clock::time_point when) {
    using namespace std::chrono;
    // Formatting the date is the costly part; it changes once a second, so each thread keeps it.
    thread_local std::int64_t cached_second = -1;
    thread_local std::array<char, 32> cached{};
    thread_local std::size_t cached_len = 0;
    const auto ms = duration_cast<milliseconds>(when.time_since_epoch()).count();
    const std::int64_t second = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
    if (second != cached_second) {
        const auto t = static_cast<std::time_t>(second);
        std::tm tm{};
        ::gmtime_r(&t, &tm);
        cached_len = std::strftime(cached.data(), cached.size(), "%Y-%m-%dT%H:%M:%S", &tm);
        cached_second = second;
    }
    out.append(cached.data(), cached_len);
    const auto millis = static_cast<unsigned>(ms - second * 1000);
    out.push_back('.');
    out.push_back(static_cast<char>('0' + millis / 100));
    out.push_back(static_cast<char>('0' + (millis / 10) % 10));
    out.push_back(static_cast<char>('0' + millis % 10));
    out.push_back('Z');
}

std::string event_line(std::string_view level, std::string_view msg, std::string_view extra) {
    std::string line;
    line.reserve(96 + msg.size() + extra.size());
    line.append("{\"time\":\"");
    append_timestamp(line, std::chrono::system_clock::now());
    line.append("\",\"level\":");
    append_json_string(line, level);
    line.append(",\"msg\":");
    append_json_string(line, msg);
    line.append(extra);
    line.push_back('}');
    return line;
}

} // namespace aignehub::detail
