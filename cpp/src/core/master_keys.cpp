#include "core/master_keys.hpp"

#include "aignehub/errors.hpp"

#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

namespace aignehub::detail {

namespace {

crypto::sealed_secret sealed_of(const credential_row& row) {
    return {row.secret_ciphertext, row.wrapped_key, row.key_id};
}

void put_sealed(credential_row& row, crypto::sealed_secret sealed) {
    row.secret_ciphertext = std::move(sealed.ciphertext);
    row.wrapped_key = std::move(sealed.wrapped_key);
    row.key_id = std::move(sealed.key_id);
}

constexpr const char* pepper_setting = "access_key_pepper";
constexpr const char* pepper_identity = "setting/access_key_pepper";

std::optional<crypto::sealed_secret> stored_pepper(const store& db) {
    const std::string text = db.get_setting(pepper_setting, "");
    if (text.empty()) {
        return std::nullopt;
    }
    const auto parsed = nlohmann::json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
        throw store_error("the stored access-key pepper is damaged");
    }
    auto ciphertext = crypto::base64_decode(parsed.value("ciphertext", ""));
    auto wrapped = crypto::base64_decode(parsed.value("wrapped_key", ""));
    if (!ciphertext || !wrapped) {
        throw store_error("the stored access-key pepper is damaged");
    }
    return crypto::sealed_secret{std::move(*ciphertext), std::move(*wrapped),
                                 parsed.value("key_id", "")};
}

void store_pepper(store& db, const crypto::sealed_secret& sealed) {
    const nlohmann::json value{{"ciphertext", crypto::base64_encode(sealed.ciphertext)},
                               {"wrapped_key", crypto::base64_encode(sealed.wrapped_key)},
                               {"key_id", sealed.key_id}};
    db.put_setting(pepper_setting, value.dump());
}

} // namespace

std::string credential_identity(std::int64_t id) {
    return "credential/" + std::to_string(id);
}

master_keys::master_keys(std::filesystem::path file, std::optional<std::string> env_value,
                         const store& db)
    : file_(std::move(file)) {
    const auto rows = db.list_credentials(std::nullopt);
    const auto pepper = stored_pepper(db);
    if (env_value && !env_value->empty()) {
        from_env_ = true;
        ring_ = std::make_shared<const crypto::keyring>(crypto::keyring::parse_env(*env_value));
    } else if (std::filesystem::exists(file_)) {
        ring_ = std::make_shared<const crypto::keyring>(crypto::keyring::read_file(file_));
    } else if (!rows.empty() || pepper) {
        throw config_error("the database holds " + std::to_string(rows.size() + (pepper ? 1 : 0)) +
                           " sealed secrets but there is no master key: set "
                           "AIGNEHUB_MASTER_KEY or restore " +
                           file_.string());
    } else {
        const std::vector keys{crypto::generate_master_key()};
        crypto::keyring::write_file(file_, keys);
        ring_ = std::make_shared<const crypto::keyring>(keys);
    }
    std::set<std::string> missing;
    for (const auto& row : rows) {
        if (ring_->find(row.key_id) == nullptr) {
            missing.insert(row.key_id);
        }
    }
    if (pepper && ring_->find(pepper->key_id) == nullptr) {
        missing.insert(pepper->key_id);
    }
    if (!missing.empty()) {
        std::string ids;
        for (const auto& id : missing) {
            ids += (ids.empty() ? "" : ", ") + id;
        }
        throw config_error(std::string("wrong master key: credentials are sealed under key ") +
                           ids + ", which " + (from_env_ ? "AIGNEHUB_MASTER_KEY" : file_.string()) +
                           " does not hold");
    }
}

std::shared_ptr<const crypto::keyring> master_keys::ring() const {
    const std::lock_guard lock(mu_);
    return ring_;
}

std::string master_keys::primary_id() const {
    return ring()->primary().id;
}

std::shared_ptr<const crypto::keyring> master_keys::ring_holding(const std::string& key_id) const {
    auto keys = ring();
    if (keys->find(key_id) == nullptr && !from_env_ && std::filesystem::exists(file_)) {
        auto reread = std::make_shared<const crypto::keyring>(crypto::keyring::read_file(file_));
        const std::lock_guard lock(mu_);
        ring_ = reread;
        keys = ring_;
    }
    return keys;
}

void master_keys::seal(credential_row& row, std::string_view secret) const {
    put_sealed(row, ring()->seal_secret(secret, credential_identity(row.id)));
}

std::string master_keys::open(const credential_row& row) const {
    return ring_holding(row.key_id)->open_secret(sealed_of(row), credential_identity(row.id));
}

std::array<std::uint8_t, 32> master_keys::access_key_pepper(store& db) const {
    auto sealed = stored_pepper(db);
    if (!sealed) {
        const auto fresh = crypto::random_bytes(32);
        sealed = ring()->seal_secret(
            std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size()),
            pepper_identity);
        store_pepper(db, *sealed);
    }
    const std::string plain = ring_holding(sealed->key_id)->open_secret(*sealed, pepper_identity);
    if (plain.size() != 32) {
        throw store_error("the stored access-key pepper is damaged");
    }
    std::array<std::uint8_t, 32> out{};
    std::memcpy(out.data(), plain.data(), out.size());
    return out;
}

master_keys::rotation master_keys::rotate(store& db) {
    rotation result;
    auto current = ring();
    result.old_primary = current->primary().id;
    if (from_env_) {
        // The environment already names the new key first: what is old is what rows used.
        std::set<std::string> used;
        for (const auto& row : db.list_credentials(std::nullopt)) {
            if (row.key_id != current->primary().id) {
                used.insert(row.key_id);
            }
        }
        std::string ids;
        for (const auto& id : used) {
            ids += (ids.empty() ? "" : ",") + id;
        }
        if (!ids.empty()) {
            result.old_primary = ids;
        }
    }
    std::shared_ptr<const crypto::keyring> next = current;
    if (!from_env_) {
        std::vector<crypto::master_key> keys{crypto::generate_master_key()};
        keys.insert(keys.end(), current->keys().begin(), current->keys().end());
        crypto::keyring::write_file(file_, keys);
        next = std::make_shared<const crypto::keyring>(keys);
        const std::lock_guard lock(mu_);
        ring_ = next;
    }
    result.new_primary = next->primary().id;
    result.resealed = db.reseal_credentials([&](credential_row& row) {
        put_sealed(row, next->rewrap(sealed_of(row), credential_identity(row.id)));
    });
    if (const auto pepper = stored_pepper(db)) {
        store_pepper(db, next->rewrap(*pepper, pepper_identity));
    }
    if (!from_env_) {
        const std::vector keys{next->primary()};
        crypto::keyring::write_file(file_, keys);
        const std::lock_guard lock(mu_);
        ring_ = std::make_shared<const crypto::keyring>(keys);
    }
    return result;
}

} // namespace aignehub::detail
