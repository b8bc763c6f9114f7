#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"
#include "store/migrations.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <mutex>
#include <sqlite3.h>

namespace aignehub {

namespace {

class sqlite_store final : public store {
public:
    explicit sqlite_store(const std::filesystem::path& file)
        : path_(file.string()), db_(open(path_)) {
        try {
            configure();
            version_ = migrate();
        } catch (const SQLite::Exception& e) {
            throw store_error("cannot prepare the database at " + path_ + ": " + e.what());
        }
    }

    [[nodiscard]] std::string backend() const override { return "sqlite"; }

    [[nodiscard]] int schema_version() const override {
        const std::lock_guard lock(mu_);
        return version_;
    }

    void ping() const override {
        const std::lock_guard lock(mu_);
        try {
            SQLite::Statement query(db_, "SELECT MAX(version) FROM schema_migrations");
            if (!query.executeStep() || query.getColumn(0).getInt() != version_) {
                throw store_error("the schema version of " + path_ + " changed underneath");
            }
        } catch (const SQLite::Exception& e) {
            throw store_error(std::string("the database does not answer: ") + e.what());
        }
    }

    [[nodiscard]] std::string get_setting(const std::string& key,
                                          const std::string& fallback) const override {
        const std::lock_guard lock(mu_);
        try {
            SQLite::Statement query(db_, "SELECT value FROM settings WHERE key = ?");
            query.bind(1, key);
            return query.executeStep() ? query.getColumn(0).getString() : fallback;
        } catch (const SQLite::Exception& e) {
            throw store_error("cannot read setting '" + key + "': " + e.what());
        }
    }

    void put_setting(const std::string& key, const std::string& value) override {
        const std::lock_guard lock(mu_);
        try {
            SQLite::Statement upsert(db_, "INSERT INTO settings (key, value) VALUES (?, ?) "
                                          "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                                          "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')");
            upsert.bind(1, key);
            upsert.bind(2, value);
            upsert.exec();
        } catch (const SQLite::Exception& e) {
            throw store_error("cannot write setting '" + key + "': " + e.what());
        }
    }

    [[nodiscard]] std::vector<provider_row> list_providers() const override {
        return guarded("list providers", [&] {
            SQLite::Statement q(db_, std::string(provider_columns) + " ORDER BY name");
            std::vector<provider_row> rows;
            while (q.executeStep()) {
                rows.push_back(read_provider(q));
            }
            return rows;
        });
    }

    [[nodiscard]] std::optional<provider_row>
    find_provider(const std::string& name) const override {
        return guarded("find a provider", [&]() -> std::optional<provider_row> {
            SQLite::Statement q(db_, std::string(provider_columns) + " WHERE name = ?");
            q.bind(1, name);
            if (!q.executeStep()) {
                return std::nullopt;
            }
            return read_provider(q);
        });
    }

    provider_row insert_provider(const provider_row& row) override {
        return guarded("add a provider", [&] {
            SQLite::Statement q(db_, "INSERT INTO providers (name, kind, display_name, base_url, "
                                     "local, enabled, settings, source) VALUES (?,?,?,?,?,?,?,?)");
            q.bind(1, row.name);
            q.bind(2, row.kind);
            q.bind(3, row.display_name);
            bind_optional(q, 4, row.base_url);
            q.bind(5, row.local ? 1 : 0);
            q.bind(6, row.enabled ? 1 : 0);
            q.bind(7, row.settings);
            q.bind(8, row.source);
            exec_unique(q, "a provider named '" + row.name + "' already exists");
            return provider_by_id(db_.getLastInsertRowid());
        });
    }

    provider_row update_provider(const provider_row& row) override {
        return guarded("update a provider", [&] {
            SQLite::Statement q(db_,
                                "UPDATE providers SET name = ?, display_name = ?, base_url = ?, "
                                "local = ?, enabled = ?, settings = ?, source = ?, "
                                "updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                                "WHERE id = ?");
            q.bind(1, row.name);
            q.bind(2, row.display_name);
            bind_optional(q, 3, row.base_url);
            q.bind(4, row.local ? 1 : 0);
            q.bind(5, row.enabled ? 1 : 0);
            q.bind(6, row.settings);
            q.bind(7, row.source);
            q.bind(8, row.id);
            exec_unique(q, "a provider named '" + row.name + "' already exists");
            return provider_by_id(row.id);
        });
    }

    void delete_provider(std::int64_t id) override {
        guarded("remove a provider", [&] {
            SQLite::Statement q(db_, "DELETE FROM providers WHERE id = ?");
            q.bind(1, id);
            q.exec();
            return 0;
        });
    }

    [[nodiscard]] std::vector<credential_row>
    list_credentials(std::optional<std::int64_t> provider_id) const override {
        return guarded("list credentials", [&] {
            SQLite::Statement q(
                db_, std::string(credential_columns) +
                         (provider_id ? " WHERE provider_id = ? ORDER BY id" : " ORDER BY id"));
            if (provider_id) {
                q.bind(1, *provider_id);
            }
            std::vector<credential_row> rows;
            while (q.executeStep()) {
                rows.push_back(read_credential(q));
            }
            return rows;
        });
    }

    [[nodiscard]] std::optional<credential_row> find_credential(std::int64_t provider_id,
                                                                std::int64_t id) const override {
        return guarded("find a credential", [&]() -> std::optional<credential_row> {
            SQLite::Statement q(db_, std::string(credential_columns) +
                                         " WHERE provider_id = ? AND id = ?");
            q.bind(1, provider_id);
            q.bind(2, id);
            if (!q.executeStep()) {
                return std::nullopt;
            }
            return read_credential(q);
        });
    }

    credential_row insert_credential(const credential_row& row,
                                     const std::function<void(credential_row&)>& seal) override {
        return guarded("add a credential", [&] {
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            SQLite::Statement q(db_, "INSERT INTO credentials (provider_id, name, weight, enabled, "
                                     "source, secret_ciphertext, wrapped_key, key_id, secret_hint, "
                                     "status, status_message, status_code, checked_at) "
                                     "VALUES (?,?,?,?,?,x'',x'','',?,?,?,?,?)");
            q.bind(1, row.provider_id);
            q.bind(2, row.name);
            q.bind(3, row.weight);
            q.bind(4, row.enabled ? 1 : 0);
            q.bind(5, row.source);
            q.bind(6, row.secret_hint);
            q.bind(7, row.status);
            q.bind(8, row.status_message);
            bind_optional(q, 9, row.status_code);
            bind_optional(q, 10, row.checked_at);
            exec_unique(q, "the provider already has a credential named '" + row.name + "'");
            credential_row sealed = row;
            sealed.id = db_.getLastInsertRowid();
            seal(sealed);
            write_secret(sealed);
            tx.commit();
            return credential_by_id(sealed.id);
        });
    }

    credential_row update_credential(const credential_row& row) override {
        return guarded("update a credential", [&] {
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            SQLite::Statement q(db_, "UPDATE credentials SET name = ?, weight = ?, enabled = ?, "
                                     "secret_hint = ?, status = ?, status_message = ?, "
                                     "status_code = ?, checked_at = ?, updated_at = " +
                                         std::string(now_sql) + " WHERE id = ?");
            q.bind(1, row.name);
            q.bind(2, row.weight);
            q.bind(3, row.enabled ? 1 : 0);
            q.bind(4, row.secret_hint);
            q.bind(5, row.status);
            q.bind(6, row.status_message);
            bind_optional(q, 7, row.status_code);
            bind_optional(q, 8, row.checked_at);
            q.bind(9, row.id);
            exec_unique(q, "the provider already has a credential named '" + row.name + "'");
            write_secret(row);
            tx.commit();
            return credential_by_id(row.id);
        });
    }

    void delete_credential(std::int64_t id) override {
        guarded("remove a credential", [&] {
            SQLite::Statement q(db_, "DELETE FROM credentials WHERE id = ?");
            q.bind(1, id);
            q.exec();
            return 0;
        });
    }

    std::size_t reseal_credentials(const std::function<void(credential_row&)>& reseal) override {
        return guarded("re-seal credentials", [&] {
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            std::vector<credential_row> rows;
            {
                SQLite::Statement q(db_, std::string(credential_columns) + " ORDER BY id");
                while (q.executeStep()) {
                    rows.push_back(read_credential(q));
                }
            }
            for (auto& row : rows) {
                reseal(row);
                write_secret(row);
            }
            tx.commit();
            return rows.size();
        });
    }

    void replace_provider_models(std::int64_t provider_id,
                                 const std::vector<std::string>& models) override {
        guarded("record a models listing", [&] {
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            SQLite::Statement clear(db_, "DELETE FROM provider_models WHERE provider_id = ?");
            clear.bind(1, provider_id);
            clear.exec();
            SQLite::Statement add(db_, "INSERT OR IGNORE INTO provider_models (provider_id, model) "
                                       "VALUES (?, ?)");
            for (const auto& model : models) {
                add.bind(1, provider_id);
                add.bind(2, model);
                add.exec();
                add.reset();
            }
            tx.commit();
            return 0;
        });
    }

    [[nodiscard]] std::vector<std::pair<std::string, std::string>>
    list_provider_models() const override {
        return guarded("list models", [&] {
            SQLite::Statement q(db_,
                                "SELECT p.name, m.model FROM provider_models m JOIN providers p "
                                "ON p.id = m.provider_id WHERE p.enabled = 1 "
                                "ORDER BY p.name, m.model");
            std::vector<std::pair<std::string, std::string>> rows;
            while (q.executeStep()) {
                rows.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
            }
            return rows;
        });
    }

    // Usage records go through a connection of their own: the writer's commits (and fsyncs) do
    // not hold the control plane's connection, and its synchronous setting is its own. Both
    // write the same WAL file; SQLite serialises the two writers (busy timeout 5 s).
    void insert_usage(const std::vector<usage_row>& rows, bool fsync,
                      const std::optional<usage_progress>& progress) override {
        const std::lock_guard lock(usage_mu_);
        try {
            if (!usage_db_) {
                usage_db_.emplace(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_NOMUTEX);
                usage_db_->setBusyTimeout(5000);
            }
            if (!usage_insert_) {
                usage_insert_.emplace(
                    *usage_db_,
                    "INSERT INTO usage_records (request_id, user_id, key_id, app, provider, "
                    "credential_id, model_requested, model_served, prompt_tokens, "
                    "completion_tokens, cached_tokens, reasoning_tokens, images, status, "
                    "error_kind, latency_us, ttfb_us, upstream_ttfb_us, attempts, created_at, "
                    "cache_write_5m_tokens, cache_write_1h_tokens) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
            }
            if (usage_fsync_ != fsync) {
                usage_db_->exec(fsync ? "PRAGMA synchronous = FULL"
                                      : "PRAGMA synchronous = NORMAL");
                usage_fsync_ = fsync;
            }
            SQLite::Transaction tx(*usage_db_, SQLite::TransactionBehavior::IMMEDIATE);
            auto& q = *usage_insert_;
            for (const auto& r : rows) {
                q.bind(1, r.request_id);
                bind_optional(q, 2, r.user_id);
                bind_optional(q, 3, r.key_id);
                q.bind(4, r.app);
                q.bind(5, r.provider);
                bind_optional(q, 6, r.credential_id);
                q.bind(7, r.model_requested);
                q.bind(8, r.model_served);
                q.bind(9, r.prompt_tokens);
                q.bind(10, r.completion_tokens);
                q.bind(11, r.cached_tokens);
                q.bind(12, r.reasoning_tokens);
                q.bind(13, r.images);
                q.bind(14, r.status);
                q.bind(15, r.error_kind);
                q.bind(16, r.latency_us);
                bind_optional(q, 17, r.ttfb_us);
                bind_optional(q, 18, r.upstream_ttfb_us);
                q.bind(19, r.attempts);
                q.bind(20, r.created_at);
                q.bind(21, r.cache_write_5m_tokens);
                q.bind(22, r.cache_write_1h_tokens);
                q.exec();
                q.reset();
            }
            if (progress) {
                SQLite::Statement p(*usage_db_, "INSERT INTO settings (key, value) VALUES (?, ?) "
                                                "ON CONFLICT (key) DO UPDATE SET value = "
                                                "excluded.value");
                p.bind(1, progress->setting);
                p.bind(2, std::to_string(progress->seq));
                p.exec();
            }
            tx.commit();
        } catch (const SQLite::Exception& e) {
            if (usage_insert_) {
                usage_insert_->reset();
            }
            throw store_error(std::string("cannot record usage: ") + e.what());
        }
    }

    [[nodiscard]] std::int64_t count_usage() const override {
        return guarded("count usage", [&] {
            return db_.execAndGet("SELECT COUNT(*) FROM usage_records").getInt64();
        });
    }

    [[nodiscard]] std::vector<usage_row> query_usage(const usage_filter& f) const override {
        return guarded("read usage", [&] {
            std::string sql =
                "SELECT id, request_id, user_id, key_id, app, provider, credential_id, "
                "model_requested, model_served, prompt_tokens, completion_tokens, cached_tokens, "
                "reasoning_tokens, images, status, error_kind, latency_us, ttfb_us, "
                "upstream_ttfb_us, attempts, created_at, cache_write_5m_tokens, "
                "cache_write_1h_tokens FROM usage_records WHERE 1 = 1";
            if (f.since) {
                sql += " AND created_at >= :since";
            }
            if (f.until) {
                sql += " AND created_at < :until";
            }
            if (f.user_id) {
                sql += " AND user_id = :user";
            }
            if (f.key_id) {
                sql += " AND key_id = :key";
            }
            if (f.model) {
                sql += " AND (model_requested = :model OR model_served = :model)";
            }
            if (f.provider) {
                sql += " AND provider = :provider";
            }
            if (f.status) {
                sql += " AND status = :status";
            }
            if (f.before_id) {
                sql += " AND id < :before";
            }
            sql += " ORDER BY id DESC LIMIT :limit";
            SQLite::Statement q(db_, sql);
            if (f.since) {
                q.bind(":since", *f.since);
            }
            if (f.until) {
                q.bind(":until", *f.until);
            }
            if (f.user_id) {
                q.bind(":user", *f.user_id);
            }
            if (f.key_id) {
                q.bind(":key", *f.key_id);
            }
            if (f.model) {
                q.bind(":model", *f.model);
            }
            if (f.provider) {
                q.bind(":provider", *f.provider);
            }
            if (f.status) {
                q.bind(":status", *f.status);
            }
            if (f.before_id) {
                q.bind(":before", *f.before_id);
            }
            q.bind(":limit", f.limit);
            std::vector<usage_row> rows;
            while (q.executeStep()) {
                rows.push_back(read_usage(q));
            }
            return rows;
        });
    }

    [[nodiscard]] std::vector<user_row> list_users() const override {
        return guarded("list users", [&] {
            SQLite::Statement q(db_, std::string(user_columns) + " ORDER BY id");
            std::vector<user_row> rows;
            while (q.executeStep()) {
                rows.push_back(read_user(q));
            }
            return rows;
        });
    }

    [[nodiscard]] std::optional<user_row> find_user(std::int64_t id) const override {
        return guarded("find a user", [&]() -> std::optional<user_row> {
            SQLite::Statement q(db_, std::string(user_columns) + " WHERE id = ?");
            q.bind(1, id);
            if (!q.executeStep()) {
                return std::nullopt;
            }
            return read_user(q);
        });
    }

    user_row insert_user(const user_row& row) override {
        return guarded("add a user", [&] { return user_by_id(write_new_user(row)); });
    }

    user_row update_user(const user_row& row) override {
        return guarded("update a user", [&] {
            SQLite::Statement q(db_, "UPDATE users SET display_name = ?, email = ?, "
                                     "external_subject = ?, role = ?, disabled = ?, updated_at = "
                                     "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?");
            q.bind(1, row.display_name);
            bind_optional(q, 2, row.email);
            bind_optional(q, 3, row.external_subject);
            q.bind(4, row.role);
            q.bind(5, row.disabled ? 1 : 0);
            q.bind(6, row.id);
            exec_unique(q, "another user has that email or external subject");
            return user_by_id(row.id);
        });
    }

    bool insert_first_user(user_row& user, access_key_row& key) override {
        return guarded("create the first user", [&] {
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            if (db_.execAndGet("SELECT COUNT(*) FROM users").getInt64() != 0) {
                return false;
            }
            user = user_by_id(write_new_user(user));
            key.user_id = user.id;
            key = key_by_id(write_new_key(key));
            tx.commit();
            return true;
        });
    }

    [[nodiscard]] std::vector<access_key_row>
    list_access_keys(std::optional<std::int64_t> user_id) const override {
        return guarded("list access keys", [&] {
            SQLite::Statement q(db_,
                                std::string(key_columns) +
                                    (user_id ? " WHERE user_id = ? ORDER BY id" : " ORDER BY id"));
            if (user_id) {
                q.bind(1, *user_id);
            }
            std::vector<access_key_row> rows;
            while (q.executeStep()) {
                rows.push_back(read_key(q));
            }
            return rows;
        });
    }

    [[nodiscard]] std::optional<access_key_row> find_access_key(std::int64_t id) const override {
        return guarded("find an access key", [&]() -> std::optional<access_key_row> {
            SQLite::Statement q(db_, std::string(key_columns) + " WHERE id = ?");
            q.bind(1, id);
            if (!q.executeStep()) {
                return std::nullopt;
            }
            return read_key(q);
        });
    }

    access_key_row insert_access_key(const access_key_row& row) override {
        return guarded("add an access key", [&] { return key_by_id(write_new_key(row)); });
    }

    access_key_row update_access_key(const access_key_row& row) override {
        return guarded("update an access key", [&] {
            SQLite::Statement q(db_,
                                "UPDATE access_keys SET name = ?, app = ?, models = ?, rpm = ?, "
                                "tpm = ?, expires_at = ?, revoked_at = ? WHERE id = ?");
            q.bind(1, row.name);
            q.bind(2, row.app);
            bind_optional(q, 3, row.models);
            bind_optional(q, 4, row.rpm);
            bind_optional(q, 5, row.tpm);
            bind_optional(q, 6, row.expires_at);
            bind_optional(q, 7, row.revoked_at);
            q.bind(8, row.id);
            q.exec();
            return key_by_id(row.id);
        });
    }

    void
    touch_access_keys(const std::vector<std::pair<std::int64_t, std::string>>& last_used) override {
        guarded("record key use", [&] {
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            SQLite::Statement q(db_, "UPDATE access_keys SET last_used_at = ? WHERE id = ? AND "
                                     "(last_used_at IS NULL OR last_used_at < ?)");
            for (const auto& [id, when] : last_used) {
                q.bind(1, when);
                q.bind(2, id);
                q.bind(3, when);
                q.exec();
                q.reset();
            }
            tx.commit();
            return 0;
        });
    }

private:
    static constexpr const char* now_sql = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    static constexpr const char* provider_columns =
        "SELECT id, name, kind, display_name, base_url, local, enabled, settings, source, "
        "created_at, updated_at FROM providers";
    static constexpr const char* credential_columns =
        "SELECT id, provider_id, name, weight, enabled, source, secret_ciphertext, wrapped_key, "
        "key_id, secret_hint, status, status_message, status_code, checked_at, created_at, "
        "updated_at FROM credentials";

    // Runs `fn` under the connection's lock and turns SQLite's exceptions into store_error.
    template <class Fn> auto guarded(const char* what, Fn&& fn) const -> decltype(fn()) {
        const std::lock_guard lock(mu_);
        try {
            return fn();
        } catch (const SQLite::Exception& e) {
            throw store_error(std::string("cannot ") + what + ": " + e.what());
        }
    }

    static void exec_unique(SQLite::Statement& q, const std::string& conflict_message) {
        try {
            q.exec();
        } catch (const SQLite::Exception& e) {
            if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE) {
                throw conflict_error(conflict_message);
            }
            throw;
        }
    }

    template <class T>
    static void bind_optional(SQLite::Statement& q, int index, const std::optional<T>& value) {
        if (value) {
            q.bind(index, *value);
        } else {
            q.bind(index);
        }
    }

    static std::vector<std::uint8_t> read_blob(const SQLite::Column& c) {
        const auto* data = static_cast<const std::uint8_t*>(c.getBlob());
        return {data, data + c.getBytes()};
    }

    static std::optional<std::string> optional_text(const SQLite::Column& c) {
        return c.isNull() ? std::nullopt : std::optional<std::string>(c.getString());
    }

    static provider_row read_provider(SQLite::Statement& q) {
        provider_row r;
        r.id = q.getColumn(0).getInt64();
        r.name = q.getColumn(1).getString();
        r.kind = q.getColumn(2).getString();
        r.display_name = q.getColumn(3).getString();
        r.base_url = optional_text(q.getColumn(4));
        r.local = q.getColumn(5).getInt() != 0;
        r.enabled = q.getColumn(6).getInt() != 0;
        r.settings = q.getColumn(7).getString();
        r.source = q.getColumn(8).getString();
        r.created_at = q.getColumn(9).getString();
        r.updated_at = q.getColumn(10).getString();
        return r;
    }

    static credential_row read_credential(SQLite::Statement& q) {
        credential_row r;
        r.id = q.getColumn(0).getInt64();
        r.provider_id = q.getColumn(1).getInt64();
        r.name = q.getColumn(2).getString();
        r.weight = q.getColumn(3).getInt64();
        r.enabled = q.getColumn(4).getInt() != 0;
        r.source = q.getColumn(5).getString();
        r.secret_ciphertext = read_blob(q.getColumn(6));
        r.wrapped_key = read_blob(q.getColumn(7));
        r.key_id = q.getColumn(8).getString();
        r.secret_hint = q.getColumn(9).getString();
        r.status = q.getColumn(10).getString();
        r.status_message = q.getColumn(11).getString();
        if (!q.getColumn(12).isNull()) {
            r.status_code = q.getColumn(12).getInt64();
        }
        r.checked_at = optional_text(q.getColumn(13));
        r.created_at = q.getColumn(14).getString();
        r.updated_at = q.getColumn(15).getString();
        return r;
    }

    provider_row provider_by_id(std::int64_t id) const {
        SQLite::Statement q(db_, std::string(provider_columns) + " WHERE id = ?");
        q.bind(1, id);
        if (!q.executeStep()) {
            throw not_found_error("the provider no longer exists");
        }
        return read_provider(q);
    }

    credential_row credential_by_id(std::int64_t id) const {
        SQLite::Statement q(db_, std::string(credential_columns) + " WHERE id = ?");
        q.bind(1, id);
        if (!q.executeStep()) {
            throw not_found_error("the credential no longer exists");
        }
        return read_credential(q);
    }

    void write_secret(const credential_row& row) {
        if (row.secret_ciphertext.empty() || row.wrapped_key.empty() || row.key_id.empty()) {
            throw store_error("refusing to store a credential without its sealed secret");
        }
        SQLite::Statement q(db_, "UPDATE credentials SET secret_ciphertext = ?, wrapped_key = ?, "
                                 "key_id = ? WHERE id = ?");
        q.bind(1, row.secret_ciphertext.data(), static_cast<int>(row.secret_ciphertext.size()));
        q.bind(2, row.wrapped_key.data(), static_cast<int>(row.wrapped_key.size()));
        q.bind(3, row.key_id);
        q.bind(4, row.id);
        q.exec();
    }

    static constexpr const char* user_columns =
        "SELECT id, display_name, email, external_subject, role, disabled, created_at, "
        "updated_at FROM users";
    static constexpr const char* key_columns =
        "SELECT id, user_id, name, prefix, last4, digest, app, models, rpm, tpm, expires_at, "
        "revoked_at, last_used_at, created_at FROM access_keys";

    static std::optional<std::int64_t> optional_int(const SQLite::Column& c) {
        return c.isNull() ? std::nullopt : std::optional<std::int64_t>(c.getInt64());
    }

    static usage_row read_usage(SQLite::Statement& q) {
        usage_row r;
        r.id = q.getColumn(0).getInt64();
        r.request_id = q.getColumn(1).getString();
        r.user_id = optional_int(q.getColumn(2));
        r.key_id = optional_int(q.getColumn(3));
        r.app = q.getColumn(4).getString();
        r.provider = q.getColumn(5).getString();
        r.credential_id = optional_int(q.getColumn(6));
        r.model_requested = q.getColumn(7).getString();
        r.model_served = q.getColumn(8).getString();
        r.prompt_tokens = q.getColumn(9).getInt64();
        r.completion_tokens = q.getColumn(10).getInt64();
        r.cached_tokens = q.getColumn(11).getInt64();
        r.reasoning_tokens = q.getColumn(12).getInt64();
        r.images = q.getColumn(13).getInt64();
        r.status = q.getColumn(14).getInt64();
        r.error_kind = q.getColumn(15).getString();
        r.latency_us = q.getColumn(16).getInt64();
        r.ttfb_us = optional_int(q.getColumn(17));
        r.upstream_ttfb_us = optional_int(q.getColumn(18));
        r.attempts = q.getColumn(19).getInt64();
        r.created_at = q.getColumn(20).getString();
        r.cache_write_5m_tokens = q.getColumn(21).getInt64();
        r.cache_write_1h_tokens = q.getColumn(22).getInt64();
        return r;
    }

    static user_row read_user(SQLite::Statement& q) {
        user_row r;
        r.id = q.getColumn(0).getInt64();
        r.display_name = q.getColumn(1).getString();
        r.email = optional_text(q.getColumn(2));
        r.external_subject = optional_text(q.getColumn(3));
        r.role = q.getColumn(4).getString();
        r.disabled = q.getColumn(5).getInt() != 0;
        r.created_at = q.getColumn(6).getString();
        r.updated_at = q.getColumn(7).getString();
        return r;
    }

    static access_key_row read_key(SQLite::Statement& q) {
        access_key_row r;
        r.id = q.getColumn(0).getInt64();
        r.user_id = q.getColumn(1).getInt64();
        r.name = q.getColumn(2).getString();
        r.prefix = q.getColumn(3).getString();
        r.last4 = q.getColumn(4).getString();
        r.digest = read_blob(q.getColumn(5));
        r.app = q.getColumn(6).getString();
        r.models = optional_text(q.getColumn(7));
        if (!q.getColumn(8).isNull()) {
            r.rpm = q.getColumn(8).getInt64();
        }
        if (!q.getColumn(9).isNull()) {
            r.tpm = q.getColumn(9).getInt64();
        }
        r.expires_at = optional_text(q.getColumn(10));
        r.revoked_at = optional_text(q.getColumn(11));
        r.last_used_at = optional_text(q.getColumn(12));
        r.created_at = q.getColumn(13).getString();
        return r;
    }

    user_row user_by_id(std::int64_t id) const {
        SQLite::Statement q(db_, std::string(user_columns) + " WHERE id = ?");
        q.bind(1, id);
        if (!q.executeStep()) {
            throw not_found_error("the user no longer exists");
        }
        return read_user(q);
    }

    access_key_row key_by_id(std::int64_t id) const {
        SQLite::Statement q(db_, std::string(key_columns) + " WHERE id = ?");
        q.bind(1, id);
        if (!q.executeStep()) {
            throw not_found_error("the access key no longer exists");
        }
        return read_key(q);
    }

    std::int64_t write_new_user(const user_row& row) {
        SQLite::Statement q(db_, "INSERT INTO users (display_name, email, external_subject, role, "
                                 "disabled) VALUES (?,?,?,?,?)");
        q.bind(1, row.display_name);
        bind_optional(q, 2, row.email);
        bind_optional(q, 3, row.external_subject);
        q.bind(4, row.role);
        q.bind(5, row.disabled ? 1 : 0);
        exec_unique(q, "another user has that email or external subject");
        return db_.getLastInsertRowid();
    }

    std::int64_t write_new_key(const access_key_row& row) {
        SQLite::Statement q(db_, "INSERT INTO access_keys (user_id, name, prefix, last4, digest, "
                                 "app, models, rpm, tpm, expires_at) VALUES (?,?,?,?,?,?,?,?,?,?)");
        q.bind(1, row.user_id);
        q.bind(2, row.name);
        q.bind(3, row.prefix);
        q.bind(4, row.last4);
        q.bind(5, row.digest.data(), static_cast<int>(row.digest.size()));
        q.bind(6, row.app);
        bind_optional(q, 7, row.models);
        bind_optional(q, 8, row.rpm);
        bind_optional(q, 9, row.tpm);
        bind_optional(q, 10, row.expires_at);
        exec_unique(q, "an access key with that prefix already exists");
        return db_.getLastInsertRowid();
    }

    static SQLite::Database open(const std::string& path) {
        try {
            // The store's own mutex serialises use of the connection.
            return {path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX};
        } catch (const SQLite::Exception& e) {
            throw store_error("cannot open the database at " + path + ": " + e.what());
        }
    }

    void configure() {
        SQLite::Statement journal(db_, "PRAGMA journal_mode = WAL");
        if (!journal.executeStep() || journal.getColumn(0).getString() != "wal") {
            throw store_error("cannot switch " + path_ + " to WAL mode");
        }
        // FULL: a committed transaction survives a power cut, not only a process crash. Usage
        // and ledger writes are group-committed, so the fsync is paid once per batch.
        db_.exec("PRAGMA synchronous = FULL");
        db_.exec("PRAGMA foreign_keys = ON");
        db_.setBusyTimeout(5000);
    }

    int current_version() {
        SQLite::Statement query(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        query.executeStep();
        return query.getColumn(0).getInt();
    }

    // Applies the missing migrations, each in its own IMMEDIATE transaction so that two
    // processes opening the same file at once cannot both apply one.
    int migrate() {
        db_.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version INTEGER PRIMARY KEY,"
                 " name TEXT NOT NULL,"
                 " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))");
        const int known = latest_schema_version();
        const int found = current_version();
        if (found > known) {
            throw schema_version_error(found, known);
        }
        for (const auto& step : detail::migrations()) {
            if (step.version <= found) {
                continue;
            }
            SQLite::Transaction tx(db_, SQLite::TransactionBehavior::IMMEDIATE);
            if (current_version() >= step.version) {
                continue; // another process applied it meanwhile
            }
            db_.exec(std::string(step.sql));
            SQLite::Statement record(db_,
                                     "INSERT INTO schema_migrations (version, name) VALUES (?, ?)");
            record.bind(1, step.version);
            record.bind(2, std::string(step.name));
            record.exec();
            tx.commit();
        }
        return current_version();
    }

    std::string path_;
    mutable std::mutex mu_;
    mutable SQLite::Database db_;
    // The usage writer's connection and its prepared insert, opened on first use.
    std::mutex usage_mu_;
    std::optional<SQLite::Database> usage_db_;
    std::optional<SQLite::Statement> usage_insert_;
    std::optional<bool> usage_fsync_; // the synchronous setting in force on usage_db_
    int version_ = 0;
};

} // namespace

std::unique_ptr<store> open_sqlite_store(const std::filesystem::path& file) {
    return std::make_unique<sqlite_store>(file);
}

} // namespace aignehub
