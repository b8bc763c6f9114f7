#pragma once

#include <filesystem>
#include <memory>
#include <string>

namespace aignehub {

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
};

/// The newest schema version this build knows.
[[nodiscard]] int latest_schema_version() noexcept;

/// Opens (creating when absent) the SQLite database at `file` in WAL mode and applies every
/// migration it lacks. Throws schema_version_error when the file was written by a newer schema,
/// store_error when it cannot be opened or migrated.
[[nodiscard]] std::unique_ptr<store> open_sqlite_store(const std::filesystem::path& file);

} // namespace aignehub
