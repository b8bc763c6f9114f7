#pragma once

#include "aignehub/server.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aignehub {

class store;
class provider_service;
class user_service;
namespace detail {
class master_keys;
}
namespace auth {
class authenticator;
}
namespace routing {
class routes;
}

/// One aignehub installation: its data directory, the store and master keys inside it, and the
/// control-plane services over them. The control plane (Python, CLI, admin API) works through a
/// hub; servers started from it share its store and services.
class hub {
public:
    /// Reads an environment variable; nullopt when it is not set.
    using env_reader = std::function<std::optional<std::string>(std::string_view)>;

    /// Creates the data directory (mode 0700) when absent, opens and migrates the store, loads
    /// the master key (AIGNEHUB_MASTER_KEY, else master.key in the data directory, created on
    /// first start) and brings the environment-sourced providers up to date. Throws config_error
    /// for a missing or wrong master key.
    explicit hub(std::filesystem::path data_dir, const env_reader& env = process_env);
    ~hub();
    hub(const hub&) = delete;
    hub& operator=(const hub&) = delete;
    hub(hub&&) = delete;
    hub& operator=(hub&&) = delete;

    [[nodiscard]] const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
    [[nodiscard]] std::filesystem::path database_path() const { return data_dir_ / "aignehub.db"; }
    [[nodiscard]] std::filesystem::path master_key_path() const { return data_dir_ / "master.key"; }
    [[nodiscard]] const std::shared_ptr<store>& get_store() const noexcept { return store_; }
    [[nodiscard]] provider_service& providers() const noexcept { return *providers_; }
    [[nodiscard]] user_service& users() const noexcept { return *users_; }
    [[nodiscard]] auth::authenticator& keys() const noexcept { return *keys_auth_; }

    /// The id (not the key) of the master key new secrets are sealed under.
    [[nodiscard]] std::string master_key_id() const;

    struct rotation {
        std::string old_key_id;
        std::string new_key_id;
        std::size_t resealed = 0;
    };
    /// Re-wraps every credential's data key under a new master key (see detail::master_keys).
    rotation rotate_master_key();

    /// Starts a server on this hub's store and services.
    [[nodiscard]] std::unique_ptr<server> serve(server_config config) const;

    /// The process environment.
    static std::optional<std::string> process_env(std::string_view name);

private:
    std::filesystem::path data_dir_;
    std::shared_ptr<store> store_;
    std::shared_ptr<detail::master_keys> keys_;
    std::shared_ptr<provider_service> providers_;
    std::shared_ptr<auth::authenticator> keys_auth_;
    std::shared_ptr<user_service> users_;
    std::shared_ptr<routing::routes> routes_;
};

} // namespace aignehub
