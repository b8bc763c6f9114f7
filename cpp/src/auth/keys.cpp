#include "auth/keys.hpp"

#include "aignehub/crypto.hpp"

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace aignehub::auth {

namespace {

constexpr std::string_view key_tag = "ahk_";
constexpr std::size_t prefix_length = 12;
constexpr std::size_t secret_length = 43; // 32 bytes of base64url without padding
constexpr std::size_t key_length = key_tag.size() + prefix_length + 1 + secret_length;
constexpr std::string_view base32 = "abcdefghijklmnopqrstuvwxyz234567";

bool base32_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}

bool base64url_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

std::chrono::seconds ceil_seconds(double seconds) {
    return std::chrono::seconds(static_cast<std::int64_t>(std::ceil(std::max(seconds, 1.0))));
}

} // namespace

new_key generate_key() {
    const auto prefix_bytes = crypto::random_bytes(prefix_length);
    std::string prefix;
    prefix.reserve(prefix_length);
    for (const auto b : prefix_bytes) {
        prefix.push_back(base32[b & 31U]);
    }
    std::string secret = crypto::base64_encode(crypto::random_bytes(32));
    std::replace(secret.begin(), secret.end(), '+', '-');
    std::replace(secret.begin(), secret.end(), '/', '_');
    secret.erase(std::remove(secret.begin(), secret.end(), '='), secret.end());
    std::string text = std::string(key_tag) + prefix + "_" + secret;
    return {text, prefix, text.substr(text.size() - 4)};
}

bool well_formed(std::string_view key) noexcept {
    if (key.size() != key_length || !key.starts_with(key_tag)) {
        return false;
    }
    const std::string_view prefix = key.substr(key_tag.size(), prefix_length);
    const std::string_view secret = key.substr(key_tag.size() + prefix_length + 1);
    return key[key_tag.size() + prefix_length] == '_' &&
           std::all_of(prefix.begin(), prefix.end(), base32_char) &&
           std::all_of(secret.begin(), secret.end(), base64url_char);
}

bool model_allowed(const std::vector<std::string>& patterns, std::string_view model) noexcept {
    if (patterns.empty()) {
        return true;
    }
    return std::any_of(patterns.begin(), patterns.end(), [model](const std::string& p) {
        if (p.size() >= 2 && p.ends_with("/*")) {
            return model.size() > p.size() - 1 && model.starts_with(p.substr(0, p.size() - 1));
        }
        return model == p;
    });
}

std::optional<clock::time_point> parse_time(std::string_view text) noexcept {
    std::tm tm{};
    int consumed = 0;
    const std::string copy(text);
    if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6 ||
        consumed != 19) {
        return std::nullopt;
    }
    std::string_view rest = text.substr(19);
    int millis = 0;
    if (rest.starts_with('.')) {
        std::size_t digits = 1;
        while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
            if (digits <= 3) {
                millis = millis * 10 + (rest[digits] - '0');
            }
            ++digits;
        }
        if (digits == 1) {
            return std::nullopt;
        }
        for (std::size_t d = digits; d <= 3; ++d) {
            millis *= 10;
        }
        rest.remove_prefix(digits);
    }
    if (rest != "Z" || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return std::nullopt;
    }
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t seconds = ::timegm(&tm);
    return clock::from_time_t(seconds) + std::chrono::milliseconds(millis);
}

std::string format_time(clock::time_point when) {
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
    const auto seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    std::array<char, 40> text{};
    const auto n = std::snprintf(text.data(), text.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                 tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
    return {text.data(), static_cast<std::size_t>(n)};
}

void key_runtime::bucket::refill(double capacity, clock::time_point now) {
    if (!primed) {
        level = capacity;
        at = now;
        primed = true;
        return;
    }
    const double elapsed = std::chrono::duration<double>(now - at).count();
    if (elapsed > 0) {
        level = std::min(capacity, level + elapsed * capacity / 60.0);
        at = now;
    }
}

std::optional<std::chrono::seconds> key_runtime::take_request(std::int64_t rpm,
                                                              clock::time_point now) {
    const std::lock_guard lock(mu_);
    const auto capacity = static_cast<double>(rpm);
    requests_.refill(capacity, now);
    if (requests_.level >= 1.0) {
        requests_.level -= 1.0;
        return std::nullopt;
    }
    return ceil_seconds((1.0 - requests_.level) * 60.0 / capacity);
}

std::optional<std::chrono::seconds> key_runtime::token_wait(std::int64_t tpm,
                                                            clock::time_point now) {
    const std::lock_guard lock(mu_);
    const auto capacity = static_cast<double>(tpm);
    tokens_.refill(capacity, now);
    if (tokens_.level > 0.0) {
        return std::nullopt;
    }
    return ceil_seconds((1.0 - tokens_.level) * 60.0 / capacity);
}

void key_runtime::spend_tokens(std::int64_t tokens, std::int64_t tpm, clock::time_point now) {
    const std::lock_guard lock(mu_);
    tokens_.refill(static_cast<double>(tpm), now);
    tokens_.level -= static_cast<double>(tokens);
}

void key_runtime::mark_used(clock::time_point now) noexcept {
    last_used_ms_.store(
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count(),
        std::memory_order_relaxed);
}

struct authenticator::prepared_hmac {
    struct md_ctx_free {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    using md_ctx = std::unique_ptr<EVP_MD_CTX, md_ctx_free>;
    md_ctx inner{EVP_MD_CTX_new()};
    md_ctx outer{EVP_MD_CTX_new()};

    explicit prepared_hmac(const std::array<std::uint8_t, 32>& key) {
        constexpr std::size_t block = 64;
        std::array<std::uint8_t, block> ipad{};
        std::array<std::uint8_t, block> opad{};
        for (std::size_t i = 0; i < block; ++i) {
            const std::uint8_t k = i < key.size() ? key[i] : 0;
            ipad[i] = static_cast<std::uint8_t>(k ^ 0x36U);
            opad[i] = static_cast<std::uint8_t>(k ^ 0x5cU);
        }
        if (!inner || !outer || EVP_DigestInit_ex(inner.get(), EVP_sha256(), nullptr) != 1 ||
            EVP_DigestUpdate(inner.get(), ipad.data(), block) != 1 ||
            EVP_DigestInit_ex(outer.get(), EVP_sha256(), nullptr) != 1 ||
            EVP_DigestUpdate(outer.get(), opad.data(), block) != 1) {
            throw std::runtime_error("cannot prepare HMAC-SHA-256");
        }
        OPENSSL_cleanse(ipad.data(), ipad.size());
        OPENSSL_cleanse(opad.data(), opad.size());
    }

    std::array<std::uint8_t, 32> operator()(std::string_view message) const {
        // One scratch context per thread: copying a prepared state allocates nothing once warm.
        thread_local md_ctx scratch{EVP_MD_CTX_new()};
        std::array<std::uint8_t, 32> inner_digest{};
        std::array<std::uint8_t, 32> out{};
        unsigned length = 0;
        if (EVP_MD_CTX_copy_ex(scratch.get(), inner.get()) != 1 ||
            EVP_DigestUpdate(scratch.get(), message.data(), message.size()) != 1 ||
            EVP_DigestFinal_ex(scratch.get(), inner_digest.data(), &length) != 1 ||
            EVP_MD_CTX_copy_ex(scratch.get(), outer.get()) != 1 ||
            EVP_DigestUpdate(scratch.get(), inner_digest.data(), inner_digest.size()) != 1 ||
            EVP_DigestFinal_ex(scratch.get(), out.data(), &length) != 1) {
            throw std::runtime_error("HMAC-SHA-256 failed");
        }
        return out;
    }
};

authenticator::authenticator(std::array<std::uint8_t, 32> pepper)
    : hmac_(std::make_shared<const prepared_hmac>(pepper)),
      snapshot_(std::make_shared<const key_snapshot>()) {
    OPENSSL_cleanse(pepper.data(), pepper.size());
}

authenticator::~authenticator() = default;

std::array<std::uint8_t, 32> authenticator::digest(std::string_view key) const {
    return (*hmac_)(key);
}

void authenticator::rebuild(const store& db) {
    const std::lock_guard lock(rebuild_mu_);
    std::unordered_map<std::int64_t, user_row> users;
    for (auto& u : db.list_users()) {
        users.emplace(u.id, std::move(u));
    }
    auto next = std::make_shared<key_snapshot>();
    std::unordered_map<std::int64_t, std::shared_ptr<key_runtime>> runtimes;
    for (const auto& k : db.list_access_keys(std::nullopt)) {
        const auto owner = users.find(k.user_id);
        if (k.revoked_at || owner == users.end() || owner->second.disabled) {
            continue;
        }
        principal p;
        p.user_id = k.user_id;
        p.role = owner->second.role;
        p.user_name = owner->second.display_name;
        p.key_id = k.id;
        p.key_name = k.name;
        p.app = k.app;
        if (k.models) {
            const auto parsed = nlohmann::json::parse(*k.models, nullptr, false);
            if (parsed.is_array()) {
                for (const auto& m : parsed) {
                    if (m.is_string()) {
                        p.models.push_back(m.get<std::string>());
                    }
                }
            }
        }
        p.rpm = k.rpm;
        p.tpm = k.tpm;
        if (k.expires_at) {
            // An unreadable expiry must not make a key eternal: treat it as expired.
            p.expires = parse_time(*k.expires_at).value_or(clock::time_point{});
        }
        const auto kept = runtimes_.find(k.id);
        p.runtime = kept != runtimes_.end() ? kept->second : std::make_shared<key_runtime>();
        runtimes.emplace(k.id, p.runtime);
        next->by_digest.emplace(std::string(k.digest.begin(), k.digest.end()), std::move(p));
    }
    runtimes_ = std::move(runtimes);
    const std::lock_guard swap(snapshot_mu_);
    snapshot_ = std::move(next);
}

verification authenticator::verify(std::string_view key, clock::time_point now) const {
    verification out;
    if (key.empty()) {
        return out;
    }
    if (!well_formed(key)) {
        out.what = verdict::malformed;
        return out;
    }
    const auto d = digest(key);
    {
        const std::lock_guard lock(snapshot_mu_);
        out.snapshot = snapshot_;
    }
    const auto found = out.snapshot->by_digest.find(
        std::string(reinterpret_cast<const char*>(d.data()), d.size()));
    if (found == out.snapshot->by_digest.end() ||
        !crypto::constant_time_equal(
            std::span(reinterpret_cast<const std::uint8_t*>(found->first.data()),
                      found->first.size()),
            d)) {
        out.what = verdict::unknown;
        return out;
    }
    const principal& who = found->second;
    if (who.expires && now >= *who.expires) {
        out.what = verdict::expired;
        return out;
    }
    out.what = verdict::ok;
    out.who = &who;
    who.runtime->mark_used(now);
    return out;
}

void authenticator::flush_last_used(store& db) {
    std::vector<std::pair<std::int64_t, std::string>> marks;
    {
        const std::lock_guard lock(rebuild_mu_);
        for (const auto& [id, runtime] : runtimes_) {
            const std::int64_t ms = runtime->last_used_ms();
            auto& flushed = flushed_ms_[id];
            if (ms > flushed) {
                marks.emplace_back(id,
                                   format_time(clock::time_point(std::chrono::milliseconds(ms))));
                flushed = ms;
            }
        }
    }
    if (!marks.empty()) {
        db.touch_access_keys(marks);
    }
}

} // namespace aignehub::auth
