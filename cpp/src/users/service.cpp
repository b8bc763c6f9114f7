#include "aignehub/users.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"
#include "auth/keys.hpp"
#include "core/json_input.hpp"

#include <algorithm>

namespace aignehub {

using detail::bool_field;
using detail::has;
using detail::int_field;
using detail::no_nulls;
using detail::only_fields;
using detail::text_field;
using nlohmann::json;

namespace {

constexpr std::int64_t max_limit = 1'000'000'000;

int rank(std::string_view role) {
    if (role == "system") {
        return 4;
    }
    if (role == "owner") {
        return 3;
    }
    if (role == "admin") {
        return 2;
    }
    return role == "member" ? 1 : 0;
}

json user_json(const user_row& u) {
    return {{"id", u.id},
            {"display_name", u.display_name},
            {"email", u.email ? json(*u.email) : json(nullptr)},
            {"external_subject", u.external_subject ? json(*u.external_subject) : json(nullptr)},
            {"role", u.role},
            {"disabled", u.disabled},
            {"created_at", u.created_at},
            {"updated_at", u.updated_at}};
}

json key_json(const access_key_row& k) {
    const auto expires = k.expires_at ? auth::parse_time(*k.expires_at) : std::nullopt;
    const bool expired = k.expires_at && (!expires || auth::clock::now() >= *expires);
    const auto opt = [](const auto& v) { return v ? json(*v) : json(nullptr); };
    return {{"id", k.id},
            {"user_id", k.user_id},
            {"name", k.name},
            {"prefix", "ahk_" + k.prefix},
            {"hint", "ahk_" + k.prefix + "_..." + k.last4},
            {"app", k.app},
            {"models", k.models ? json::parse(*k.models, nullptr, false) : json(nullptr)},
            {"rpm", opt(k.rpm)},
            {"tpm", opt(k.tpm)},
            {"expires_at", opt(k.expires_at)},
            {"revoked_at", opt(k.revoked_at)},
            {"last_used_at", opt(k.last_used_at)},
            {"created_at", k.created_at},
            {"active", !k.revoked_at && !expired}};
}

std::string role_field(const json& input) {
    const std::string role = text_field(input, "role", 16);
    if (rank(role) == 0 || role == "system") {
        throw invalid_input("role", "must be owner, admin or member");
    }
    return role;
}

std::optional<std::string> email_field(const json& input) {
    if (!has(input, "email")) {
        return std::nullopt;
    }
    const std::string email = text_field(input, "email", 254);
    const auto at = email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == email.size() ||
        email.find(' ') != std::string::npos) {
        throw invalid_input("email", "is not an email address");
    }
    std::string lower = email;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return lower;
}

std::string display_name_field(const json& input) {
    std::string name = text_field(input, "display_name", 100);
    if (name.empty()) {
        throw invalid_input("display_name", "must not be empty");
    }
    return name;
}

// The allowlist: exact model names or "provider/*", no spaces, at most 100 entries.
std::optional<std::string> models_field(const json& input) {
    if (!has(input, "models")) {
        return std::nullopt;
    }
    const json& value = input.at("models");
    if (!value.is_array() || value.size() > 100) {
        throw invalid_input("models", "must be a list of at most 100 model names");
    }
    for (const auto& m : value) {
        if (!m.is_string() || m.get_ref<const std::string&>().empty() ||
            m.get_ref<const std::string&>().size() > 200 ||
            std::any_of(m.get_ref<const std::string&>().begin(),
                        m.get_ref<const std::string&>().end(), [](char c) {
                            const auto u = static_cast<unsigned char>(c);
                            return u <= 0x20 || u == 0x7f;
                        })) {
            throw invalid_input("models", "entries must be model names or provider/* patterns");
        }
    }
    return value.dump();
}

std::optional<std::int64_t> limit_field(const json& input, const char* field) {
    return has(input, field) ? std::optional(int_field(input, field, 1, max_limit)) : std::nullopt;
}

std::optional<std::string> expiry_field(const json& input) {
    if (!has(input, "expires_at")) {
        return std::nullopt;
    }
    const std::string text = text_field(input, "expires_at", 40);
    const auto when = auth::parse_time(text);
    if (!when) {
        throw invalid_input("expires_at", "must be an RFC 3339 UTC time like 2027-01-31T00:00:00Z");
    }
    if (*when <= auth::clock::now()) {
        throw invalid_input("expires_at", "must be in the future");
    }
    return auth::format_time(*when);
}

// Changing a key is changing its user: nobody may act on the keys of a user above their rank.
void require_rank_over(const actor& who, const user_row& owner) {
    if (rank(owner.role) > rank(who.role)) {
        throw forbidden_error("you cannot act on the keys of a user whose role is above your own");
    }
}

void require_manager(const actor& who) {
    if (!who.manages_everything()) {
        throw forbidden_error("only owners and admins may do this");
    }
}

} // namespace

user_service::user_service(std::shared_ptr<store> db, std::shared_ptr<auth::authenticator> keys)
    : db_(std::move(db)), keys_(std::move(keys)) {}

user_row user_service::key_owner(const access_key_row& key) const {
    auto owner = db_->find_user(key.user_id);
    if (!owner) {
        throw not_found_error("the key's user no longer exists");
    }
    return *owner;
}

void user_service::refresh() {
    // Other processes on this database (the CLI next to a running server) watch this counter
    // and rebuild their key snapshots when it moves.
    const auto version = std::stoll(db_->get_setting(auth_version_setting, "0"));
    db_->put_setting(auth_version_setting, std::to_string(version + 1));
    keys_->rebuild(*db_);
}

json user_service::bootstrap() {
    user_row owner;
    owner.display_name = "Owner";
    owner.role = "owner";
    const auth::new_key key = auth::generate_key();
    access_key_row row;
    row.name = "owner bootstrap key";
    row.prefix = key.prefix;
    row.last4 = key.last4;
    const auto d = keys_->digest(key.text);
    row.digest.assign(d.begin(), d.end());
    if (!db_->insert_first_user(owner, row)) {
        return nullptr;
    }
    refresh();
    json out_key = key_json(row);
    out_key["secret"] = key.text;
    return {{"user", user_json(owner)}, {"key", std::move(out_key)}};
}

json user_service::list_users(const actor& who) const {
    require_manager(who);
    json out = json::array();
    for (const auto& u : db_->list_users()) {
        out.push_back(user_json(u));
    }
    return out;
}

json user_service::get_user(const actor& who, std::int64_t id) const {
    const auto u = db_->find_user(id);
    if (!u || (!who.manages_everything() && who.user_id != id)) {
        throw not_found_error("no user " + std::to_string(id));
    }
    return user_json(*u);
}

json user_service::add_user(const actor& who, const json& input) {
    require_manager(who);
    only_fields(input, {"display_name", "email", "external_subject", "role", "disabled"});
    if (!has(input, "display_name")) {
        throw invalid_input("display_name", "is required");
    }
    user_row u;
    u.display_name = display_name_field(input);
    u.email = email_field(input);
    if (has(input, "external_subject")) {
        u.external_subject = text_field(input, "external_subject", 500);
    }
    u.role = has(input, "role") ? role_field(input) : "member";
    u.disabled = has(input, "disabled") && bool_field(input, "disabled");
    if (rank(u.role) > rank(who.role)) {
        throw forbidden_error("you cannot create a user with a role above your own");
    }
    const user_row stored = db_->insert_user(u);
    refresh();
    return user_json(stored);
}

json user_service::update_user(const actor& who, std::int64_t id, const json& patch) {
    require_manager(who);
    only_fields(patch, {"display_name", "email", "external_subject", "role", "disabled"});
    no_nulls(patch, {"display_name", "role", "disabled"});
    auto found = db_->find_user(id);
    if (!found) {
        throw not_found_error("no user " + std::to_string(id));
    }
    user_row u = *found;
    if (rank(u.role) > rank(who.role)) {
        throw forbidden_error("you cannot change a user whose role is above your own");
    }
    if (has(patch, "display_name")) {
        u.display_name = display_name_field(patch);
    }
    if (patch.contains("email")) {
        u.email = email_field(patch);
    }
    if (patch.contains("external_subject")) {
        u.external_subject = has(patch, "external_subject")
                                 ? std::optional(text_field(patch, "external_subject", 500))
                                 : std::nullopt;
    }
    if (has(patch, "role")) {
        u.role = role_field(patch);
        if (rank(u.role) > rank(who.role)) {
            throw forbidden_error("you cannot give a role above your own");
        }
    }
    if (has(patch, "disabled")) {
        u.disabled = bool_field(patch, "disabled");
    }
    if (found->role == "owner" && !found->disabled && (u.role != "owner" || u.disabled)) {
        const auto users = db_->list_users();
        const auto owners = std::count_if(users.begin(), users.end(), [](const user_row& x) {
            return x.role == "owner" && !x.disabled;
        });
        if (owners <= 1) {
            throw conflict_error("the last owner cannot be demoted or disabled");
        }
    }
    const user_row stored = db_->update_user(u);
    refresh();
    return user_json(stored);
}

json user_service::list_keys(const actor& who, std::optional<std::int64_t> user_id) const {
    if (user_id && who.manages_everything() && !db_->find_user(*user_id)) {
        throw not_found_error("no user " + std::to_string(*user_id));
    }
    if (!who.manages_everything()) {
        if (user_id && user_id != who.user_id) {
            throw not_found_error("no user " + std::to_string(*user_id));
        }
        user_id = who.user_id;
    }
    json out = json::array();
    for (const auto& k : db_->list_access_keys(user_id)) {
        out.push_back(key_json(k));
    }
    return out;
}

json user_service::get_key(const actor& who, std::int64_t id) const {
    const auto k = db_->find_access_key(id);
    if (!k || (!who.manages_everything() && who.user_id != k->user_id)) {
        throw not_found_error("no access key " + std::to_string(id));
    }
    return key_json(*k);
}

json user_service::create_key(const actor& who, const json& input) {
    only_fields(input, {"user_id", "name", "app", "models", "rpm", "tpm", "expires_at"});
    std::int64_t owner_id = 0;
    if (has(input, "user_id")) {
        owner_id = int_field(input, "user_id", 1, std::numeric_limits<std::int64_t>::max());
    } else if (who.user_id) {
        owner_id = *who.user_id;
    } else {
        throw invalid_input("user_id", "is required");
    }
    if (!who.manages_everything() && who.user_id != owner_id) {
        throw forbidden_error("members may create keys only for themselves");
    }
    const auto owner = db_->find_user(owner_id);
    if (!owner) {
        throw not_found_error("no user " + std::to_string(owner_id));
    }
    require_rank_over(who, *owner);
    if (!has(input, "name")) {
        throw invalid_input("name", "is required");
    }
    access_key_row row;
    row.user_id = owner_id;
    row.name = text_field(input, "name", 100);
    if (row.name.empty()) {
        throw invalid_input("name", "must not be empty");
    }
    row.app = has(input, "app") ? text_field(input, "app", 100) : "";
    row.models = models_field(input);
    row.rpm = limit_field(input, "rpm");
    row.tpm = limit_field(input, "tpm");
    row.expires_at = expiry_field(input);
    const auth::new_key key = auth::generate_key();
    row.prefix = key.prefix;
    row.last4 = key.last4;
    const auto d = keys_->digest(key.text);
    row.digest.assign(d.begin(), d.end());
    const access_key_row stored = db_->insert_access_key(row);
    refresh();
    json out = key_json(stored);
    out["secret"] = key.text;
    return out;
}

json user_service::update_key(const actor& who, std::int64_t id, const json& patch) {
    only_fields(patch, {"name", "app", "models", "rpm", "tpm", "expires_at"});
    no_nulls(patch, {"name", "app"});
    auto found = db_->find_access_key(id);
    if (!found || (!who.manages_everything() && who.user_id != found->user_id)) {
        throw not_found_error("no access key " + std::to_string(id));
    }
    require_rank_over(who, key_owner(*found));
    access_key_row k = *found;
    if (has(patch, "name")) {
        k.name = text_field(patch, "name", 100);
        if (k.name.empty()) {
            throw invalid_input("name", "must not be empty");
        }
    }
    if (has(patch, "app")) {
        k.app = text_field(patch, "app", 100);
    }
    if (patch.contains("models")) {
        k.models = models_field(patch);
    }
    if (patch.contains("rpm")) {
        k.rpm = limit_field(patch, "rpm");
    }
    if (patch.contains("tpm")) {
        k.tpm = limit_field(patch, "tpm");
    }
    if (patch.contains("expires_at")) {
        k.expires_at = expiry_field(patch);
    }
    const access_key_row stored = db_->update_access_key(k);
    refresh();
    return key_json(stored);
}

json user_service::revoke_key(const actor& who, std::int64_t id) {
    auto found = db_->find_access_key(id);
    if (!found || (!who.manages_everything() && who.user_id != found->user_id)) {
        throw not_found_error("no access key " + std::to_string(id));
    }
    require_rank_over(who, key_owner(*found));
    if (!found->revoked_at) {
        found->revoked_at = auth::format_time(auth::clock::now());
        *found = db_->update_access_key(*found);
        refresh();
    }
    return key_json(*found);
}

json user_service::me(std::int64_t user_id, std::int64_t key_id) const {
    const auto u = db_->find_user(user_id);
    if (!u) {
        throw not_found_error("your user no longer exists");
    }
    json keys = json::array();
    json current = nullptr;
    for (const auto& k : db_->list_access_keys(user_id)) {
        keys.push_back(key_json(k));
        if (k.id == key_id) {
            current = keys.back();
        }
    }
    return {{"user", user_json(*u)}, {"role", u->role}, {"key", current}, {"keys", keys}};
}

} // namespace aignehub
