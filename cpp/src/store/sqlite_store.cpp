#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"
#include "store/migrations.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <mutex>

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

private:
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
    int version_ = 0;
};

} // namespace

std::unique_ptr<store> open_sqlite_store(const std::filesystem::path& file) {
    return std::make_unique<sqlite_store>(file);
}

} // namespace aignehub
