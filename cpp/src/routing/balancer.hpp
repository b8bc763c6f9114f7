#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace aignehub::routing {

using clock = std::chrono::steady_clock;

/// Picks among one provider's credentials by smooth weighted round-robin (nginx's algorithm:
/// over any window each credential is picked in proportion to its weight, and picks of one
/// credential are spread out rather than bunched), skipping credentials that are cooling down
/// after a 429 or disabled after a 401/403 until a re-test clears them. Thread-safe.
///
/// Groundwork for the gateway's routing (issue 5): nothing on a request path uses it yet.
class credential_balancer {
public:
    struct candidate {
        std::int64_t id = 0;
        std::int64_t weight = 100;
    };

    /// Sets the credentials to balance over (after a configuration change); the state of those
    /// that remain (weights in flight, cool-downs, disabling) is kept.
    void reset(const std::vector<candidate>& candidates);

    /// The credential to use now; nullopt when every one is cooling down or disabled.
    [[nodiscard]] std::optional<std::int64_t> pick(clock::time_point now);
    /// The same, never picking one of `exclude` (the credentials a request already tried).
    [[nodiscard]] std::optional<std::int64_t> pick(clock::time_point now,
                                                   const std::vector<std::int64_t>& exclude);

    /// The provider answered 429: skip the credential until `until` (from retry-after).
    void rate_limited(std::int64_t id, clock::time_point until);
    /// The provider refused the key (401/403): skip it until a re-test succeeds. Re-tests are
    /// due after 5 + 2^n seconds for the n-th consecutive refusal, at most three hours apart.
    void rejected(std::int64_t id, clock::time_point now);
    /// A call or a re-test succeeded: the credential is usable again.
    void succeeded(std::int64_t id);

    /// Disabled credentials whose re-test is due.
    [[nodiscard]] std::vector<std::int64_t> due_for_retest(clock::time_point now) const;
    /// When the earliest credential that is not disabled is usable (a time already past means
    /// one is usable now); nullopt when all are disabled. Tells a refused caller its retry-after.
    [[nodiscard]] std::optional<clock::time_point> next_available() const;

private:
    struct slot {
        candidate c;
        std::int64_t current = 0;
        clock::time_point cool_until{};
        bool disabled = false;
        unsigned refusals = 0;
        clock::time_point retest_at{};
    };
    slot* find(std::int64_t id);

    mutable std::mutex mu_;
    std::vector<slot> slots_;
};

} // namespace aignehub::routing
