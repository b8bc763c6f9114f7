#pragma once

#include "aignehub/crypto.hpp"
#include "aignehub/store.hpp"

#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace aignehub::detail {

/// The master keys of one installation and the envelope operations on credential secrets.
///
/// Keys come from AIGNEHUB_MASTER_KEY (one or more base64 keys, the first is primary) or else
/// from a key file in the data directory, created with mode 0600 on first start. A database that
/// holds sealed secrets is never paired with a newly made key: a missing or wrong key is a clear
/// start-up error.
class master_keys {
public:
    master_keys(std::filesystem::path file, std::optional<std::string> env_value, const store& db);

    [[nodiscard]] bool from_environment() const noexcept { return from_env_; }
    [[nodiscard]] const std::filesystem::path& file() const noexcept { return file_; }
    [[nodiscard]] std::string primary_id() const;

    /// Seals a credential's secret under a fresh data key bound to the credential's id.
    void seal(credential_row& row, std::string_view secret) const;
    /// The plaintext secret (see ring_holding for rows sealed under a key not yet loaded).
    [[nodiscard]] std::string open(const credential_row& row) const;

    /// The secret key of the access-key digests: 32 random bytes made on first use and stored
    /// sealed like a credential, so that a master-key rotation re-wraps it instead of
    /// invalidating every access key.
    [[nodiscard]] std::array<std::uint8_t, 32> access_key_pepper(store& db) const;

    struct rotation {
        std::string old_primary;
        std::string new_primary;
        std::size_t resealed = 0;
    };
    /// Re-wraps every data key under a new primary key without re-encrypting any secret. With a
    /// key file: a new key is made and written first beside the old one, every row is re-wrapped
    /// in one transaction, then the old key is dropped from the file; a crash at any point leaves
    /// a file that opens every row. With AIGNEHUB_MASTER_KEY: re-wraps under its first key (set
    /// "new,old", rotate, then drop "old").
    rotation rotate(store& db);

private:
    [[nodiscard]] std::shared_ptr<const crypto::keyring> ring() const;
    /// The keyring, re-read from the key file once when it lacks `key_id` (another process may
    /// have rotated the key since this one loaded it).
    [[nodiscard]] std::shared_ptr<const crypto::keyring>
    ring_holding(const std::string& key_id) const;

    std::filesystem::path file_;
    bool from_env_ = false;
    mutable std::mutex mu_;
    mutable std::shared_ptr<const crypto::keyring> ring_;
};

/// The associated data that binds a sealed secret to its credential row.
[[nodiscard]] std::string credential_identity(std::int64_t id);

} // namespace aignehub::detail
