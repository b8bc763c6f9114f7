#include "http/request_id.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace aignehub::http {

bool valid_request_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > max_request_id_length) {
        return false;
    }
    for (const char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '+' ||
                        c == '=' || c == '/' || c == '-';
        if (!ok) {
            return false;
        }
    }
    return true;
}

std::string new_request_id() {
    // Request ids correlate log lines; they are not secrets, so a per-thread PRNG seeded from the
    // system's entropy is enough and keeps the hot path free of system calls.
    thread_local std::mt19937_64 rng{[] {
        std::random_device device;
        std::seed_seq seed{device(), device(), device(), device()};
        return std::mt19937_64{seed};
    }()};
    static constexpr std::array<char, 16> hex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                 '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    std::string id(32, '0');
    for (std::size_t half = 0; half < 2; ++half) {
        std::uint64_t bits = rng();
        for (std::size_t i = 0; i < 16; ++i) {
            id[half * 16 + i] = hex[bits & 0x0Fu];
            bits >>= 4u;
        }
    }
    return id;
}

} // namespace aignehub::http
