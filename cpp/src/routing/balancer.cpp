#include "routing/balancer.hpp"

#include <algorithm>

namespace aignehub::routing {

namespace {

constexpr auto max_retest_gap = std::chrono::hours(3);

clock::duration retest_gap(unsigned refusals) {
    // 5 + 2^n seconds; the shift is bounded well before it could overflow.
    const unsigned n = std::min(refusals, 20U);
    const auto gap = std::chrono::seconds(5 + (std::int64_t{1} << n));
    return std::min<clock::duration>(gap, max_retest_gap);
}

} // namespace

credential_balancer::slot* credential_balancer::find(std::int64_t id) {
    const auto it =
        std::find_if(slots_.begin(), slots_.end(), [id](const slot& s) { return s.c.id == id; });
    return it == slots_.end() ? nullptr : &*it;
}

void credential_balancer::reset(const std::vector<candidate>& candidates) {
    const std::lock_guard lock(mu_);
    std::vector<slot> next;
    next.reserve(candidates.size());
    for (const auto& c : candidates) {
        if (c.weight <= 0) {
            continue;
        }
        slot s;
        if (const slot* old = find(c.id)) {
            s = *old;
        }
        s.c = c;
        next.push_back(s);
    }
    slots_ = std::move(next);
}

std::optional<std::int64_t> credential_balancer::pick(clock::time_point now) {
    return pick(now, {});
}

std::optional<std::int64_t> credential_balancer::pick(clock::time_point now,
                                                      const std::vector<std::int64_t>& exclude) {
    const std::lock_guard lock(mu_);
    std::int64_t total = 0;
    slot* best = nullptr;
    for (auto& s : slots_) {
        if (s.disabled || now < s.cool_until ||
            std::find(exclude.begin(), exclude.end(), s.c.id) != exclude.end()) {
            continue;
        }
        s.current += s.c.weight;
        total += s.c.weight;
        if (best == nullptr || s.current > best->current) {
            best = &s;
        }
    }
    if (best == nullptr) {
        return std::nullopt;
    }
    best->current -= total;
    return best->c.id;
}

void credential_balancer::rate_limited(std::int64_t id, clock::time_point until) {
    const std::lock_guard lock(mu_);
    if (slot* s = find(id)) {
        s->cool_until = std::max(s->cool_until, until);
    }
}

void credential_balancer::rejected(std::int64_t id, clock::time_point now) {
    const std::lock_guard lock(mu_);
    if (slot* s = find(id)) {
        s->disabled = true;
        s->retest_at = now + retest_gap(s->refusals);
        ++s->refusals;
    }
}

void credential_balancer::succeeded(std::int64_t id) {
    const std::lock_guard lock(mu_);
    if (slot* s = find(id)) {
        s->disabled = false;
        s->refusals = 0;
        s->cool_until = {};
    }
}

std::vector<std::int64_t> credential_balancer::due_for_retest(clock::time_point now) const {
    const std::lock_guard lock(mu_);
    std::vector<std::int64_t> due;
    for (const auto& s : slots_) {
        if (s.disabled && now >= s.retest_at) {
            due.push_back(s.c.id);
        }
    }
    return due;
}

std::optional<clock::time_point> credential_balancer::next_available() const {
    const std::lock_guard lock(mu_);
    std::optional<clock::time_point> first;
    for (const auto& s : slots_) {
        if (!s.disabled && (!first || s.cool_until < *first)) {
            first = s.cool_until;
        }
    }
    return first;
}

} // namespace aignehub::routing
