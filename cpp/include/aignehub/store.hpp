#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aignehub {

/// A configured provider, as stored.
struct provider_row {
    std::int64_t id = 0;
    std::string name; ///< unique; the prefix of model addresses
    std::string kind;
    std::string display_name;
    std::optional<std::string> base_url; ///< unset: the catalogue's default
    bool local = false;
    bool enabled = true;
    std::string settings = "{}"; ///< a JSON object
    std::string source = "api";  ///< "api" or "env"
    std::string created_at;
    std::string updated_at;
};

/// A provider credential, as stored: the secret only sealed (see crypto::keyring).
struct credential_row {
    std::int64_t id = 0;
    std::int64_t provider_id = 0;
    std::string name;
    std::int64_t weight = 100;
    bool enabled = true;
    std::string source = "api"; ///< "api" or "env"
    std::vector<std::uint8_t> secret_ciphertext;
    std::vector<std::uint8_t> wrapped_key;
    std::string key_id;
    std::string secret_hint; ///< masked: at most the first and last four characters
    std::string status = "untested";
    std::string status_message;
    std::optional<std::int64_t> status_code;
    std::optional<std::string> checked_at;
    std::string created_at;
    std::string updated_at;
};

/// A person or application that calls the gateway.
struct user_row {
    std::int64_t id = 0;
    std::string display_name;
    std::optional<std::string> email;            ///< unique when present
    std::optional<std::string> external_subject; ///< "issuer|subject" of a sign-in provider
    std::string role = "member";                 ///< owner, admin or member
    bool disabled = false;
    std::string created_at;
    std::string updated_at;
};

/// An access key, as stored: never the key, only its HMAC digest and what may be shown.
struct access_key_row {
    std::int64_t id = 0;
    std::int64_t user_id = 0;
    std::string name;
    std::string prefix; ///< the public part after "ahk_"
    std::string last4;
    std::vector<std::uint8_t> digest;
    std::string app;
    std::optional<std::string> models; ///< JSON array of names and "provider/*" patterns
    std::optional<std::int64_t> rpm;
    std::optional<std::int64_t> tpm;
    std::optional<std::string> expires_at;
    std::optional<std::string> revoked_at;
    std::optional<std::string> last_used_at;
    std::string created_at;
};

/// One call through the gateway, answered or failed: what the in-house mode meters.
struct usage_row {
    std::int64_t id = 0; ///< assigned by the store
    std::string request_id;
    std::optional<std::int64_t> user_id;
    std::optional<std::int64_t> key_id;
    std::string app;
    std::string provider;
    std::optional<std::int64_t> credential_id;
    std::string model_requested;
    std::string model_served;
    std::int64_t prompt_tokens = 0;
    std::int64_t completion_tokens = 0;
    std::int64_t cached_tokens = 0;         ///< input tokens read from the provider's cache
    std::int64_t cache_write_5m_tokens = 0; ///< input tokens written to a 5-minute cache entry
    std::int64_t cache_write_1h_tokens = 0; ///< input tokens written to a 1-hour cache entry
    std::int64_t reasoning_tokens = 0;
    std::int64_t images = 0;
    std::int64_t status = 0; ///< the HTTP status the client got
    std::string error_kind;
    std::int64_t latency_us = 0;
    std::optional<std::int64_t> ttfb_us;
    std::optional<std::int64_t> upstream_ttfb_us;
    std::int64_t attempts = 1;
    std::string created_at; ///< RFC 3339 UTC with milliseconds
};

/// A usage journal's import progress: the setting and the last sequence number imported.
struct usage_progress {
    std::string setting;
    std::uint64_t seq = 0;
};

/// Which usage records to read; unset fields do not filter.
struct usage_filter {
    std::optional<std::string> since; ///< created_at >= since (RFC 3339 UTC)
    std::optional<std::string> until; ///< created_at < until
    std::optional<std::int64_t> user_id;
    std::optional<std::int64_t> key_id;
    std::optional<std::string> model; ///< the model asked for or served
    std::optional<std::string> provider;
    std::optional<std::int64_t> status;
    std::optional<std::int64_t> before_id; ///< paging: records older than this id
    std::int64_t limit = 100;
};

/// The one interface every persistence backend implements. SQLite is the embedded default;
/// a PostgreSQL backend for several nodes implements the same interface.
///
/// All methods are safe to call from any thread. They may block, so the data plane calls none of
/// them on its hot path (it reads an in-memory snapshot instead).
class store {
public:
    store() = default;
    store(const store&) = delete;
    store& operator=(const store&) = delete;
    store(store&&) = delete;
    store& operator=(store&&) = delete;
    virtual ~store() = default;

    /// A short name for the backend, such as "sqlite".
    [[nodiscard]] virtual std::string backend() const = 0;

    /// The schema version the database is at (the newest migration applied).
    [[nodiscard]] virtual int schema_version() const = 0;

    /// Proves the store answers a query. Throws store_error with the reason when it does not.
    virtual void ping() const = 0;

    /// A setting's value, or `fallback` when the setting was never written.
    [[nodiscard]] virtual std::string get_setting(const std::string& key,
                                                  const std::string& fallback) const = 0;

    /// Writes a setting (insert or replace), durably.
    virtual void put_setting(const std::string& key, const std::string& value) = 0;

    [[nodiscard]] virtual std::vector<provider_row> list_providers() const = 0;
    [[nodiscard]] virtual std::optional<provider_row>
    find_provider(const std::string& name) const = 0;
    /// Inserts and returns the row as stored. Throws conflict_error when the name is taken.
    virtual provider_row insert_provider(const provider_row& row) = 0;
    /// Writes every column but id and created_at.
    virtual provider_row update_provider(const provider_row& row) = 0;
    /// Removes the provider and its credentials.
    virtual void delete_provider(std::int64_t id) = 0;

    /// Credentials of one provider, or of all when `provider_id` is unset; ordered by id.
    [[nodiscard]] virtual std::vector<credential_row>
    list_credentials(std::optional<std::int64_t> provider_id) const = 0;
    [[nodiscard]] virtual std::optional<credential_row> find_credential(std::int64_t provider_id,
                                                                        std::int64_t id) const = 0;
    /// Inserts a credential in one transaction: the row is created, `seal` fills in the sealed
    /// secret knowing the row's id (the id is the ciphertext's associated data), and the row is
    /// completed, so no row without its secret is ever visible. Throws conflict_error when the
    /// provider already has a credential of that name.
    virtual credential_row insert_credential(const credential_row& row,
                                             const std::function<void(credential_row&)>& seal) = 0;
    /// Writes every column but id, provider_id, created_at and source.
    virtual credential_row update_credential(const credential_row& row) = 0;
    virtual void delete_credential(std::int64_t id) = 0;
    /// Re-seals every credential in one transaction (master-key rotation); returns how many.
    virtual std::size_t reseal_credentials(const std::function<void(credential_row&)>& reseal) = 0;

    /// Replaces what a provider's models listing last said, in one transaction.
    virtual void replace_provider_models(std::int64_t provider_id,
                                         const std::vector<std::string>& models) = 0;
    /// (provider name, model) for every enabled provider, ordered.
    [[nodiscard]] virtual std::vector<std::pair<std::string, std::string>>
    list_provider_models() const = 0;

    /// Writes usage records in one transaction: with `fsync` it returns once the batch is on
    /// disk (one fsync for the whole batch); without, once the operating system has it (it
    /// survives the process, not a power cut). With `progress`, the same transaction sets that
    /// setting (a usage journal's last imported record), so a batch is imported exactly once.
    virtual void insert_usage(const std::vector<usage_row>& rows, bool fsync,
                              const std::optional<usage_progress>& progress = std::nullopt) = 0;
    /// How many usage records are stored.
    [[nodiscard]] virtual std::int64_t count_usage() const = 0;
    /// Usage records matching `filter`, newest first (by id), at most `filter.limit`.
    [[nodiscard]] virtual std::vector<usage_row> query_usage(const usage_filter& filter) const = 0;

    [[nodiscard]] virtual std::vector<user_row> list_users() const = 0;
    [[nodiscard]] virtual std::optional<user_row> find_user(std::int64_t id) const = 0;
    /// Throws conflict_error when the email or external subject is taken.
    virtual user_row insert_user(const user_row& row) = 0;
    /// Writes every column but id and created_at. Throws conflict_error as insert_user does.
    virtual user_row update_user(const user_row& row) = 0;
    /// Creates the first user and its first key in one transaction, only while there is no user
    /// at all; false (and nothing written) when some user already exists.
    virtual bool insert_first_user(user_row& user, access_key_row& key) = 0;

    /// Keys of one user, or of everyone when `user_id` is unset; ordered by id.
    [[nodiscard]] virtual std::vector<access_key_row>
    list_access_keys(std::optional<std::int64_t> user_id) const = 0;
    [[nodiscard]] virtual std::optional<access_key_row> find_access_key(std::int64_t id) const = 0;
    virtual access_key_row insert_access_key(const access_key_row& row) = 0;
    /// Writes name, app, models, rpm, tpm, expires_at and revoked_at.
    virtual access_key_row update_access_key(const access_key_row& row) = 0;
    /// Records last-used times (key id, RFC 3339 time) in one transaction.
    virtual void
    touch_access_keys(const std::vector<std::pair<std::int64_t, std::string>>& last_used) = 0;
};

/// The newest schema version this build knows.
[[nodiscard]] int latest_schema_version() noexcept;

/// Opens (creating when absent) the SQLite database at `file` in WAL mode and applies every
/// migration it lacks. Throws schema_version_error when the file was written by a newer schema,
/// store_error when it cannot be opened or migrated.
[[nodiscard]] std::unique_ptr<store> open_sqlite_store(const std::filesystem::path& file);

} // namespace aignehub
