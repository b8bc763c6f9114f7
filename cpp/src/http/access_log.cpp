#include "http/access_log.hpp"

#include "core/log.hpp"

namespace aignehub::http {

std::string_view path_of(std::string_view target) noexcept {
    const auto end = target.find_first_of("?#");
    return end == std::string_view::npos ? target : target.substr(0, end);
}

std::string access_line(const access_entry& entry) {
    std::string line;
    line.reserve(256);
    line.append(R"({"time":")");
    detail::append_timestamp(line, entry.time);
    line.append(R"(","level":"info","msg":"access","method":)");
    detail::append_json_string(line, entry.method);
    line.append(R"(,"path":)");
    detail::append_json_string(line, path_of(entry.target));
    line.append(R"(,"status":)");
    line.append(std::to_string(entry.status));
    const auto micros = entry.duration.count() < 0 ? 0 : entry.duration.count();
    line.append(R"(,"duration_ms":)");
    line.append(std::to_string(micros / 1000));
    line.push_back('.');
    const auto frac = micros % 1000;
    line.push_back(static_cast<char>('0' + frac / 100));
    line.push_back(static_cast<char>('0' + (frac / 10) % 10));
    line.push_back(static_cast<char>('0' + frac % 10));
    line.append(R"(,"bytes_in":)");
    line.append(std::to_string(entry.bytes_in));
    line.append(R"(,"bytes":)");
    line.append(std::to_string(entry.bytes_out));
    line.append(R"(,"request_id":)");
    detail::append_json_string(line, entry.request_id);
    line.append(R"(,"remote":)");
    detail::append_json_string(line, entry.remote);
    line.push_back('}');
    return line;
}

} // namespace aignehub::http
