#include "billing/usage_journal.hpp"

#include "aignehub/crypto.hpp"
#include "aignehub/errors.hpp"
#include "core/log.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace aignehub::billing {

namespace {

constexpr std::string_view prefix = "usage-";
constexpr std::string_view suffix = ".journal";

void append_int(std::string& out, std::int64_t value) {
    std::array<char, 24> text{};
    const auto [end, ec] = std::to_chars(text.data(), text.data() + text.size(), value);
    out.append(text.data(), static_cast<std::size_t>(end - text.data()));
}

void field(std::string& out, std::string_view name, std::string_view value) {
    out.push_back('"');
    out.append(name);
    out.append("\":");
    detail::append_json_string(out, value);
    out.push_back(',');
}

void field(std::string& out, std::string_view name, std::int64_t value) {
    out.push_back('"');
    out.append(name);
    out.append("\":");
    append_int(out, value);
    out.push_back(',');
}

void field(std::string& out, std::string_view name, const std::optional<std::int64_t>& value) {
    if (value) {
        field(out, name, *value);
    }
}

std::optional<std::int64_t> optional_int(const nlohmann::json& line, const char* name) {
    const auto it = line.find(name);
    return it != line.end() && it->is_number_integer() ? std::optional(it->get<std::int64_t>())
                                                       : std::nullopt;
}

usage_row row_of(const nlohmann::json& line) {
    usage_row r;
    r.request_id = line.value("request_id", "");
    r.user_id = optional_int(line, "user_id");
    r.key_id = optional_int(line, "key_id");
    r.app = line.value("app", "");
    r.provider = line.value("provider", "");
    r.credential_id = optional_int(line, "credential_id");
    r.model_requested = line.value("model_requested", "");
    r.model_served = line.value("model_served", "");
    r.prompt_tokens = line.value("prompt_tokens", std::int64_t{0});
    r.completion_tokens = line.value("completion_tokens", std::int64_t{0});
    r.cached_tokens = line.value("cached_tokens", std::int64_t{0});
    r.cache_write_5m_tokens = line.value("cache_write_5m_tokens", std::int64_t{0});
    r.cache_write_1h_tokens = line.value("cache_write_1h_tokens", std::int64_t{0});
    r.reasoning_tokens = line.value("reasoning_tokens", std::int64_t{0});
    r.images = line.value("images", std::int64_t{0});
    r.status = line.value("status", std::int64_t{0});
    r.error_kind = line.value("error_kind", "");
    r.latency_us = line.value("latency_us", std::int64_t{0});
    r.ttfb_us = optional_int(line, "ttfb_us");
    r.upstream_ttfb_us = optional_int(line, "upstream_ttfb_us");
    r.attempts = line.value("attempts", std::int64_t{1});
    r.created_at = line.value("created_at", "");
    return r;
}

std::string random_id() {
    const auto bytes = crypto::random_bytes(8);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (const auto b : bytes) {
        out.push_back(hex[b >> 4]);
        out.push_back(hex[b & 0xF]);
    }
    return out;
}

} // namespace

usage_journal::usage_journal(const std::filesystem::path& dir, std::uint64_t segment_bytes)
    : dir_(dir), id_(random_id()), segment_bytes_(segment_bytes) {
    open_segment();
}

void usage_journal::open_segment() {
    std::array<char, 8> number{};
    std::snprintf(number.data(), number.size(), "%06u", next_number_++);
    segment next;
    next.path = dir_ / (std::string(prefix) + id_ + "-" + number.data() + std::string(suffix));
    next.fd = ::open(next.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (next.fd < 0) {
        throw store_error("cannot create the usage journal " + next.path.string() + ": " +
                          std::strerror(errno));
    }
    if (::flock(next.fd, LOCK_EX | LOCK_NB) != 0) {
        ::close(next.fd);
        throw store_error("cannot lock the usage journal " + next.path.string());
    }
    current_ = std::move(next);
    current_bytes_ = 0;
}

usage_journal::~usage_journal() {
    retired_.push_back(current_);
    for (const auto& s : retired_) {
        if (s.last_seq <= imported_) {
            std::error_code ignored;
            std::filesystem::remove(s.path, ignored); // before the close: no unlocked moment
        }
        ::close(s.fd);
    }
}

std::vector<std::filesystem::path> usage_journal::segments() const {
    const std::lock_guard lock(mu_);
    std::vector<std::filesystem::path> out;
    for (const auto& s : retired_) {
        out.push_back(s.path);
    }
    out.push_back(current_.path);
    return out;
}

std::string usage_journal::progress_setting(const std::string& id) {
    return "usage_journal/" + id;
}

std::string usage_journal::fields_of(const usage_row& r) {
    std::string out;
    out.reserve(384);
    field(out, "request_id", r.request_id);
    field(out, "user_id", r.user_id);
    field(out, "key_id", r.key_id);
    field(out, "app", r.app);
    field(out, "provider", r.provider);
    field(out, "credential_id", r.credential_id);
    field(out, "model_requested", r.model_requested);
    field(out, "model_served", r.model_served);
    field(out, "prompt_tokens", r.prompt_tokens);
    field(out, "completion_tokens", r.completion_tokens);
    field(out, "cached_tokens", r.cached_tokens);
    field(out, "cache_write_5m_tokens", r.cache_write_5m_tokens);
    field(out, "cache_write_1h_tokens", r.cache_write_1h_tokens);
    field(out, "reasoning_tokens", r.reasoning_tokens);
    field(out, "images", r.images);
    field(out, "status", r.status);
    field(out, "error_kind", r.error_kind);
    field(out, "latency_us", r.latency_us);
    field(out, "ttfb_us", r.ttfb_us);
    field(out, "upstream_ttfb_us", r.upstream_ttfb_us);
    field(out, "attempts", r.attempts);
    field(out, "created_at", r.created_at);
    out.back() = '}';
    out.push_back('\n');
    return out;
}

void usage_journal::write_line(std::uint64_t seq, const std::string& fields) {
    std::string head = "{\"seq\":";
    append_int(head, static_cast<std::int64_t>(seq));
    head.push_back(',');
    std::array<iovec, 2> parts{
        {{head.data(), head.size()}, {const_cast<char*>(fields.data()), fields.size()}}};
    const std::size_t total = head.size() + fields.size();
    const ssize_t n = ::writev(current_.fd, parts.data(), static_cast<int>(parts.size()));
    if (n != static_cast<ssize_t>(total)) {
        // A short write leaves a torn line, which recovery skips; the next line starts fresh.
        if (n > 0) {
            const char newline = '\n';
            [[maybe_unused]] const auto ignored = ::write(current_.fd, &newline, 1);
        }
        throw store_error("cannot append to the usage journal: " +
                          std::string(n < 0 ? std::strerror(errno) : "short write"));
    }
    current_.last_seq = seq;
    current_bytes_ += total;
}

void usage_journal::truncate_if_imported(std::uint64_t imported) {
    const std::lock_guard lock(mu_);
    imported_ = std::max(imported_, imported);
    std::erase_if(retired_, [&](const segment& s) {
        if (s.last_seq > imported_) {
            return false;
        }
        std::error_code ignored;
        std::filesystem::remove(s.path, ignored);
        ::close(s.fd);
        return true;
    });
    if (last_ <= imported_) {
        [[maybe_unused]] const int ignored = ::ftruncate(current_.fd, 0);
        current_bytes_ = 0;
    } else if (current_bytes_ >= segment_bytes_) {
        retired_.push_back(current_);
        try {
            open_segment();
        } catch (const std::exception&) {
            current_ = retired_.back(); // keep appending where we were
            retired_.pop_back();
        }
    }
}

std::size_t recover_journals(store& db, const std::filesystem::path& dir) {
    // Segments by name: usage-<id>-<n>.journal sorts by id, then by n, so that each journal's
    // records are imported in sequence order and its progress only moves forward.
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with(prefix) && name.ends_with(suffix)) {
            files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    std::size_t imported = 0;
    for (const auto& file : files) {
        const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
            ::close(fd); // a running process holds it
            continue;
        }
        const std::string name = file.filename().string();
        const std::string stem =
            name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
        const std::string id = stem.substr(0, stem.find('-'));
        const std::string setting = usage_journal::progress_setting(id);
        std::uint64_t done = 0;
        const std::string progress = db.get_setting(setting, "0");
        std::from_chars(progress.data(), progress.data() + progress.size(), done);
        std::vector<usage_row> rows;
        std::uint64_t last = done;
        std::ifstream in(file);
        for (std::string line; std::getline(in, line);) {
            const auto parsed = nlohmann::json::parse(line, nullptr, false);
            if (!parsed.is_object() || !parsed.contains("seq") ||
                !parsed["seq"].is_number_unsigned()) {
                continue; // torn by the crash
            }
            const auto seq = parsed["seq"].get<std::uint64_t>();
            if (seq > done) {
                rows.push_back(row_of(parsed));
                last = std::max(last, seq);
            }
        }
        if (!rows.empty()) {
            db.insert_usage(rows, true, usage_progress{setting, last});
            imported += rows.size();
        }
        std::filesystem::remove(file, ec);
        ::close(fd);
    }
    return imported;
}

} // namespace aignehub::billing
