#include "routing/routes.hpp"

#include "aignehub/providers.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace aignehub::routing {

routes::routes() : snapshot_(std::make_shared<const route_snapshot>()) {}

void routes::rebuild(const store& db) {
    const std::lock_guard rebuilding(rebuild_mu_);
    auto next = std::make_shared<route_snapshot>();
    std::unordered_map<std::int64_t, std::shared_ptr<provider_entry>> by_id;
    for (auto& row : db.list_providers()) {
        const providers::provider_kind* kind = providers::find_kind(row.kind);
        if (!row.enabled || kind == nullptr) {
            continue;
        }
        auto entry = std::make_shared<provider_entry>();
        entry->kind = kind;
        entry->base_url = row.base_url.value_or(std::string(kind->default_base_url));
        entry->row = std::move(row);
        by_id.emplace(entry->row.id, entry);
    }
    for (auto& c : db.list_credentials(std::nullopt)) {
        const auto found = by_id.find(c.provider_id);
        if (c.enabled && found != by_id.end()) {
            found->second->credentials.push_back(std::move(c));
        }
    }
    for (auto& [provider, model] : db.list_provider_models()) {
        next->model_ids.push_back(provider + "/" + model);
        for (auto& [id, entry] : by_id) {
            if (entry->row.name == provider) {
                entry->models.push_back(std::move(model));
                break;
            }
        }
    }
    std::sort(next->model_ids.begin(), next->model_ids.end());
    // The alias table is one setting, written only by provider_service::set_alias.
    const auto aliases = nlohmann::json::parse(
        db.get_setting(provider_service::aliases_setting, "{}"), nullptr, false);
    if (aliases.is_object()) {
        for (const auto& [alias, target] : aliases.items()) {
            if (target.is_string()) {
                next->aliases.emplace(alias, target.get<std::string>());
            }
        }
    }
    std::unordered_map<std::int64_t, std::shared_ptr<credential_balancer>> balancers;
    for (auto& [id, entry] : by_id) {
        std::string why;
        entry->origin = upstream::parse_base_url(entry->base_url, why);
        auto& balancer = balancers_[id];
        if (!balancer) {
            balancer = std::make_shared<credential_balancer>();
        }
        std::vector<credential_balancer::candidate> candidates;
        for (const auto& c : entry->credentials) {
            candidates.push_back({c.id, c.weight});
        }
        balancer->reset(candidates);
        entry->balancer = balancer;
        balancers.emplace(id, balancer);
        for (const auto& model : entry->models) {
            next->by_model[model].push_back(entry);
        }
    }
    balancers_ = std::move(balancers);
    for (auto& [model, serving] : next->by_model) {
        std::sort(serving.begin(), serving.end(),
                  [](const auto& a, const auto& b) { return a->row.name < b->row.name; });
    }
    for (auto& [id, entry] : by_id) {
        next->by_name.emplace(entry->row.name, std::move(entry));
    }
    const std::lock_guard lock(mu_);
    snapshot_ = std::move(next);
}

std::shared_ptr<const route_snapshot> routes::current() const {
    const std::lock_guard lock(mu_);
    return snapshot_;
}

} // namespace aignehub::routing
