#include "store/migrations.hpp"

#include "aignehub/store.hpp"

#include <array>

namespace aignehub::detail {

namespace {

constexpr std::array<migration, 1> all_migrations{{
    {1, "settings", R"sql(
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
)sql"},
}};

} // namespace

std::span<const migration> migrations() noexcept {
    return all_migrations;
}

} // namespace aignehub::detail

namespace aignehub {

int latest_schema_version() noexcept {
    return detail::migrations().back().version;
}

} // namespace aignehub
