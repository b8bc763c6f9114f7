#pragma once

#include "aignehub/store.hpp"
#include "providers/catalogue.hpp"
#include "routing/balancer.hpp"
#include "upstream/url.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace aignehub::routing {

/// One enabled provider as the data plane sees it: its row, its catalogue entry, the base URL
/// in force, its enabled credentials (secrets still sealed) and the models it listed.
struct provider_entry {
    provider_row row;
    const providers::provider_kind* kind = nullptr;
    std::string base_url;
    std::vector<credential_row> credentials;
    std::vector<std::string> models;
    /// The base URL taken apart; unset when it does not parse (the provider is then skipped).
    std::optional<upstream::url> origin;
    /// Picks among `credentials`; shared across snapshots so that cool-downs survive changes.
    std::shared_ptr<credential_balancer> balancer;
};

/// What the request path routes by: an immutable snapshot of the providers, rebuilt after
/// every configuration change (decision 3 of ARCHITECTURE.md: no database read per request).
struct route_snapshot {
    std::unordered_map<std::string, std::shared_ptr<const provider_entry>> by_name;
    /// Every "<provider>/<model>" the enabled providers listed, sorted.
    std::vector<std::string> model_ids;
    /// Alias -> the model name it stands for.
    std::unordered_map<std::string, std::string> aliases;
    /// Bare model name -> the providers that listed it, by provider name.
    std::unordered_map<std::string, std::vector<std::shared_ptr<const provider_entry>>> by_model;
};

class routes {
public:
    routes();
    /// Rebuilds the snapshot from the store.
    void rebuild(const store& db);
    [[nodiscard]] std::shared_ptr<const route_snapshot> current() const;

private:
    mutable std::mutex mu_;
    std::shared_ptr<const route_snapshot> snapshot_;
    std::mutex rebuild_mu_;
    std::unordered_map<std::int64_t, std::shared_ptr<credential_balancer>> balancers_;
};

} // namespace aignehub::routing
