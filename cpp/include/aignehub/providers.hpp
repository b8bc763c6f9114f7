#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aignehub {

class store;
struct provider_row;
struct credential_row;
namespace detail {
class master_keys;
}

/// The providers and credentials of one installation: the single implementation behind the
/// Python API, the CLI and the admin HTTP API. Inputs and outputs are JSON objects so that every
/// front end validates and answers alike.
///
/// Errors: invalid_input (names the field), not_found_error, conflict_error,
/// credential_rejected; store_error when the database fails. No message ever holds a secret.
class provider_service {
public:
    /// Reads an environment variable; nullopt when it is not set.
    using env_reader = std::function<std::optional<std::string>(std::string_view)>;

    provider_service(std::shared_ptr<store> db, std::shared_ptr<detail::master_keys> keys);

    /// The kinds of provider aignehub knows, with their defaults.
    [[nodiscard]] nlohmann::json catalogue() const;

    [[nodiscard]] nlohmann::json list() const;
    [[nodiscard]] nlohmann::json get(const std::string& name) const;
    /// {kind, name?, display_name?, base_url?, local?, enabled?, settings?, api_key?,
    ///  credential_name?, weight?, validate?}. With api_key (or for a kind that needs none) the
    /// first credential is added and tested in the same call.
    nlohmann::json add(const nlohmann::json& input);
    /// {name?, display_name?, base_url? (null: the default), local?, enabled?, settings?}
    nlohmann::json update(const std::string& name, const nlohmann::json& patch);
    void remove(const std::string& name);
    /// Re-tests every credential of the provider.
    nlohmann::json test(const std::string& name);

    [[nodiscard]] nlohmann::json list_credentials(const std::string& provider) const;
    [[nodiscard]] nlohmann::json get_credential(const std::string& provider, std::int64_t id) const;
    /// {api_key, name?, weight?, enabled?, validate?}. Tested live first: with validate (the
    /// default) a key the provider refuses or that cannot be checked is not saved
    /// (credential_rejected); with validate=false it is saved and marked with the outcome.
    nlohmann::json add_credential(const std::string& provider, const nlohmann::json& input);
    /// {api_key?, name?, weight?, enabled?, validate?}; a new api_key is tested as on add.
    nlohmann::json update_credential(const std::string& provider, std::int64_t id,
                                     const nlohmann::json& patch);
    void remove_credential(const std::string& provider, std::int64_t id);
    nlohmann::json test_credential(const std::string& provider, std::int64_t id);

    /// Model aliases: {"alias": "target", ...}. A target is a model name as clients send it
    /// ("openai/gpt-4o-mini" or a bare listed name); aliases do not chain.
    [[nodiscard]] nlohmann::json aliases() const;
    /// Points `alias` at `target`, replacing an earlier target.
    nlohmann::json set_alias(const std::string& alias, const nlohmann::json& input);
    void remove_alias(const std::string& alias);
    /// The setting holding the alias table (a JSON object).
    static constexpr const char* aliases_setting = "model_aliases";

    /// Runs `fn` after every change this service makes (the hub rebuilds the routing snapshot).
    void on_change(std::function<void()> fn) { on_change_ = std::move(fn); }
    /// The setting bumped by every provider or credential change; servers in other processes
    /// watch it.
    static constexpr const char* config_version_setting = "config_version";

    /// Creates, updates or removes the environment-sourced providers and credentials
    /// (OPENAI_API_KEY, OLLAMA_BASE_URL, ...) to match `env`. Comma-separated keys become several
    /// credentials. Such rows are not validated here and cannot be edited through this service.
    void apply_environment(const env_reader& env);

private:
    struct check_outcome;
    // Notifies at the end of a mutating call, however it ends: a refused change costs one
    // needless rebuild, a forgotten notification a stale data plane.
    struct change_guard {
        provider_service& service;
        bool changed = true;
        ~change_guard();
    };
    void notify_change();
    friend struct change_guard;
    [[nodiscard]] check_outcome check(const provider_row& provider, std::string_view secret) const;
    [[nodiscard]] provider_row provider_named(const std::string& name) const;
    [[nodiscard]] credential_row credential_of(const provider_row& provider, std::int64_t id) const;
    [[nodiscard]] nlohmann::json provider_json(const provider_row& row) const;
    credential_row record(credential_row row, const check_outcome& outcome) const;
    credential_row insert_credential(const provider_row& provider, credential_row row,
                                     const std::string& secret);

    std::shared_ptr<store> db_;
    std::shared_ptr<detail::master_keys> keys_;
    std::function<void()> on_change_;
};

} // namespace aignehub
