#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace aignehub {

class store;
struct user_row;
struct access_key_row;
namespace auth {
class authenticator;
}

/// Who asks for a control-plane change. The local operator (Python, the CLI) acts as the
/// system; HTTP callers act as the user behind their access key.
struct actor {
    std::optional<std::int64_t> user_id; ///< unset for the system
    std::string role = "system";         ///< system, owner, admin or member

    [[nodiscard]] static actor system() { return {}; }
    [[nodiscard]] bool manages_everything() const noexcept {
        return role == "system" || role == "owner" || role == "admin";
    }
};

/// Users, roles and access keys: one implementation behind Python, the CLI and the admin API.
/// Owners and admins manage everything; a member manages only their own keys. No field can raise
/// its caller above their own role, and nobody can read a key after its creation: only its
/// HMAC digest is stored. Every change is visible to the authenticator before the call returns.
///
/// Errors: invalid_input, not_found_error (also for what the caller may not see),
/// forbidden_error, conflict_error; store_error when the database fails.
class user_service {
public:
    user_service(std::shared_ptr<store> db, std::shared_ptr<auth::authenticator> keys);

    /// On an empty database: creates the owner and a first owner key, returning
    /// {"user":{...},"key":{...,"secret":"ahk_..."}}. Afterwards: null, forever.
    nlohmann::json bootstrap();

    [[nodiscard]] nlohmann::json list_users(const actor& who) const;
    [[nodiscard]] nlohmann::json get_user(const actor& who, std::int64_t id) const;
    /// {display_name, email?, external_subject?, role? (member), disabled?}
    nlohmann::json add_user(const actor& who, const nlohmann::json& input);
    /// Any of {display_name, email, external_subject, role, disabled}.
    nlohmann::json update_user(const actor& who, std::int64_t id, const nlohmann::json& patch);

    /// The caller's keys, or everyone's (user_id unset) / one user's for owners and admins.
    [[nodiscard]] nlohmann::json list_keys(const actor& who,
                                           std::optional<std::int64_t> user_id) const;
    [[nodiscard]] nlohmann::json get_key(const actor& who, std::int64_t id) const;
    /// {user_id? (the caller), name, app?, models?, rpm?, tpm?, expires_at?}; the answer holds
    /// "secret", the only time the key is ever shown.
    nlohmann::json create_key(const actor& who, const nlohmann::json& input);
    /// Any of {name, app, models, rpm, tpm, expires_at}.
    nlohmann::json update_key(const actor& who, std::int64_t id, const nlohmann::json& patch);
    nlohmann::json revoke_key(const actor& who, std::int64_t id);

    /// The caller's user, role and key metadata.
    [[nodiscard]] nlohmann::json me(std::int64_t user_id, std::int64_t key_id) const;

    /// The setting bumped by every change to users and keys.
    static constexpr const char* auth_version_setting = "auth_version";

private:
    void refresh();
    [[nodiscard]] user_row key_owner(const access_key_row& key) const;

    std::shared_ptr<store> db_;
    std::shared_ptr<auth::authenticator> keys_;
};

} // namespace aignehub
