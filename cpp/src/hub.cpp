#include "aignehub/hub.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/providers.hpp"
#include "aignehub/store.hpp"
#include "aignehub/users.hpp"
#include "auth/keys.hpp"
#include "billing/usage_journal.hpp"
#include "core/master_keys.hpp"
#include "routing/routes.hpp"

#include <cstdlib>

#include <sys/stat.h>

namespace aignehub {

namespace {

std::filesystem::path prepare_data_dir(std::filesystem::path dir) {
    if (dir.empty()) {
        throw config_error("data_dir: must not be empty");
    }
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_directory(dir, ec)) {
        throw config_error("data_dir: " + dir.string() + " exists and is not a directory");
    }
    if (!std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) {
            throw store_error("cannot create the data directory " + dir.string() + ": " +
                              ec.message());
        }
        // The directory will hold the database and the master-key file: owner only.
        ::chmod(dir.c_str(), 0700);
    }
    return std::filesystem::absolute(dir, ec);
}

} // namespace

hub::hub(std::filesystem::path data_dir, const env_reader& env)
    : data_dir_(prepare_data_dir(std::move(data_dir))), store_(open_sqlite_store(database_path())),
      keys_(std::make_shared<detail::master_keys>(master_key_path(), env("AIGNEHUB_MASTER_KEY"),
                                                  *store_)),
      providers_(std::make_shared<provider_service>(store_, keys_)),
      keys_auth_(std::make_shared<auth::authenticator>(keys_->access_key_pepper(*store_))),
      users_(std::make_shared<user_service>(store_, keys_auth_)),
      routes_(std::make_shared<routing::routes>()) {
    providers_->on_change([routes = routes_, db = store_] { routes->rebuild(*db); });
    providers_->apply_environment(env);
    routes_->rebuild(*store_);
    keys_auth_->rebuild(*store_);
    // Usage a crashed server had journalled but not yet imported (usage_sync "normal").
    billing::recover_journals(*store_, data_dir_);
}

hub::~hub() = default;

std::string hub::master_key_id() const {
    return keys_->primary_id();
}

hub::rotation hub::rotate_master_key() {
    const auto r = keys_->rotate(*store_);
    return {r.old_primary, r.new_primary, r.resealed};
}

std::unique_ptr<server> hub::serve(server_config config) const {
    return std::make_unique<server>(
        std::move(config),
        server_services{store_, providers_, users_, keys_auth_, routes_, keys_, data_dir_});
}

std::optional<std::string> hub::process_env(std::string_view name) {
    const char* value = std::getenv(std::string(name).c_str());
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
}

} // namespace aignehub
