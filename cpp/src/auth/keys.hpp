#pragma once

#include "aignehub/store.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aignehub::auth {

using clock = std::chrono::system_clock;

/// A new access key: `text` is shown once and never stored.
struct new_key {
    std::string text;   ///< ahk_<prefix>_<secret>
    std::string prefix; ///< 12 characters of [a-z2-7]
    std::string last4;
};

/// ahk_ + 12 random base32 characters + _ + 32 random bytes in unpadded base64url.
[[nodiscard]] new_key generate_key();

/// True when `key` has the shape of an access key; checked before any hashing so that junk of
/// any length costs nothing.
[[nodiscard]] bool well_formed(std::string_view key) noexcept;

/// Whether `model` is allowed by `patterns`: none means every model; otherwise an exact name or
/// "provider/*" for everything a provider serves.
[[nodiscard]] bool model_allowed(const std::vector<std::string>& patterns,
                                 std::string_view model) noexcept;

/// Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z"; nullopt when malformed.
[[nodiscard]] std::optional<clock::time_point> parse_time(std::string_view text) noexcept;
[[nodiscard]] std::string format_time(clock::time_point when);

/// What a key may still do this minute. Lives as long as the key, across snapshot rebuilds.
class key_runtime {
public:
    /// Takes one request from a per-minute token bucket; when it is empty, the seconds until
    /// one is available again.
    [[nodiscard]] std::optional<std::chrono::seconds> take_request(std::int64_t rpm,
                                                                   clock::time_point now);
    /// Seconds to wait when the per-minute token allowance is spent, else nullopt.
    [[nodiscard]] std::optional<std::chrono::seconds> token_wait(std::int64_t tpm,
                                                                 clock::time_point now);
    /// Charges tokens a call used to the per-minute token allowance.
    void spend_tokens(std::int64_t tokens, std::int64_t tpm, clock::time_point now);

    void mark_used(clock::time_point now) noexcept;
    [[nodiscard]] std::int64_t last_used_ms() const noexcept { return last_used_ms_.load(); }

private:
    struct bucket {
        double level = 0;
        clock::time_point at{};
        bool primed = false;
        void refill(double capacity, clock::time_point now);
    };
    std::mutex mu_;
    bucket requests_;
    bucket tokens_;
    std::atomic<std::int64_t> last_used_ms_{0};
};

/// Who is calling: the key's owner and the key's limits.
struct principal {
    std::int64_t user_id = 0;
    std::string role;
    std::string user_name;
    std::int64_t key_id = 0;
    std::string key_name;
    std::string app;
    std::vector<std::string> models;
    std::optional<std::int64_t> rpm;
    std::optional<std::int64_t> tpm;
    std::optional<clock::time_point> expires;
    std::shared_ptr<key_runtime> runtime;
};

/// The keys that work now, by digest: an immutable snapshot rebuilt after every change.
struct key_snapshot {
    std::unordered_map<std::string, principal> by_digest;
};

enum class verdict { ok, missing, malformed, unknown, expired };

struct verification {
    verdict what = verdict::missing;
    std::shared_ptr<const key_snapshot> snapshot; ///< keeps `who` alive
    const principal* who = nullptr;
};

/// Verifies access keys on the hot path without touching the database: HMAC-SHA-256 of the key
/// under the installation's pepper, a hash lookup of the digest in the current snapshot and a
/// constant-time comparison. Revoked keys and keys of disabled users are not in the snapshot.
class authenticator {
public:
    explicit authenticator(std::array<std::uint8_t, 32> pepper);
    ~authenticator();
    authenticator(const authenticator&) = delete;
    authenticator& operator=(const authenticator&) = delete;
    authenticator(authenticator&&) = delete;
    authenticator& operator=(authenticator&&) = delete;

    [[nodiscard]] std::array<std::uint8_t, 32> digest(std::string_view key) const;
    /// Rebuilds the snapshot from the store; runtimes (limits, last use) carry over by key id.
    void rebuild(const store& db);
    [[nodiscard]] verification verify(std::string_view key, clock::time_point now) const;
    /// Writes last-used times newer than the previous flush.
    void flush_last_used(store& db);

private:
    // HMAC-SHA-256 with the pepper's inner and outer blocks hashed once: each digest then costs
    // two SHA-256 finishes instead of a full HMAC set-up (see bench/key_verify.py).
    struct prepared_hmac;
    std::shared_ptr<const prepared_hmac> hmac_;
    // A mutex around a pointer copy, not std::atomic<std::shared_ptr>: libstdc++ 12 implements
    // that with a lock bit ThreadSanitizer cannot see, and the copy costs the same either way.
    mutable std::mutex snapshot_mu_;
    std::shared_ptr<const key_snapshot> snapshot_;
    std::mutex rebuild_mu_;
    std::unordered_map<std::int64_t, std::shared_ptr<key_runtime>> runtimes_;
    std::unordered_map<std::int64_t, std::int64_t> flushed_ms_;
};

} // namespace aignehub::auth
