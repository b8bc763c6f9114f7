// Microbenchmark: what verifying an access key costs on the request path. Prints nanoseconds
// per verification for a valid key, an unknown well-formed key and a malformed one, with 1,000
// keys in the snapshot. Run through bench/key_verify.py, which builds it in Release.
#include "aignehub/crypto.hpp"
#include "aignehub/store.hpp"
#include "auth/keys.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

using namespace aignehub;

double ns_per_call(const auth::authenticator& keys, const std::string& key, int rounds) {
    const auto now = auth::clock::now();
    int ok = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i) {
        ok += keys.verify(key, now).what == auth::verdict::ok ? 1 : 0;
    }
    const auto elapsed = std::chrono::steady_clock::now() - start;
    if (ok < 0) {
        std::puts("unreachable"); // keeps the loop observable
    }
    return std::chrono::duration<double, std::nano>(elapsed).count() / rounds;
}

} // namespace

int main() {
    const auto dir = std::filesystem::temp_directory_path() / "aignehub-bench-keys";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    auto db = open_sqlite_store(dir / "bench.db");
    std::array<std::uint8_t, 32> pepper{};
    const auto random = crypto::random_bytes(32);
    std::copy(random.begin(), random.end(), pepper.begin());
    auth::authenticator keys(pepper);

    user_row user;
    user.display_name = "bench";
    user.role = "member";
    const user_row stored = db->insert_user(user);
    constexpr int key_count = 1000;
    std::string valid;
    for (int i = 0; i < key_count; ++i) {
        const auth::new_key k = auth::generate_key();
        access_key_row row;
        row.user_id = stored.id;
        row.name = "k" + std::to_string(i);
        row.prefix = k.prefix;
        row.last4 = k.last4;
        const auto d = keys.digest(k.text);
        row.digest.assign(d.begin(), d.end());
        db->insert_access_key(row);
        valid = k.text;
    }
    keys.rebuild(*db);

    std::string unknown = auth::generate_key().text;
    const std::string malformed = "sk-not-an-aignehub-key";
    constexpr int rounds = 1'000'000;
    ns_per_call(keys, valid, rounds / 10); // warm up
    std::printf("keys in snapshot: %d, rounds: %d\n", key_count, rounds);
    std::printf("valid key:     %7.0f ns per verification\n", ns_per_call(keys, valid, rounds));
    std::printf("unknown key:   %7.0f ns per verification\n", ns_per_call(keys, unknown, rounds));
    std::printf("malformed key: %7.0f ns per verification\n", ns_per_call(keys, malformed, rounds));
    std::printf("HMAC-SHA-256 alone: %7.0f ns\n", [&] {
        const auto start = std::chrono::steady_clock::now();
        std::uint8_t sink = 0;
        for (int i = 0; i < rounds; ++i) {
            sink ^= keys.digest(valid)[0];
        }
        const auto elapsed = std::chrono::steady_clock::now() - start;
        if (sink == 0x100) {
            std::puts("unreachable");
        }
        return std::chrono::duration<double, std::nano>(elapsed).count() / rounds;
    }());
    std::filesystem::remove_all(dir);
    return 0;
}
