#include "store/migrations.hpp"

#include "aignehub/store.hpp"

#include <array>

namespace aignehub::detail {

namespace {

constexpr std::array<migration, 6> all_migrations{{
    {1, "settings", R"sql(
CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
)sql"},
    {2, "providers and credentials", R"sql(
CREATE TABLE providers (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL,
    display_name TEXT NOT NULL,
    base_url     TEXT,
    local        INTEGER NOT NULL DEFAULT 0 CHECK (local IN (0, 1)),
    enabled      INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    settings     TEXT NOT NULL DEFAULT '{}',
    source       TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'env')),
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE TABLE credentials (
    id                INTEGER PRIMARY KEY,
    provider_id       INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    weight            INTEGER NOT NULL DEFAULT 100 CHECK (weight BETWEEN 1 AND 10000),
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    source            TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'env')),
    secret_ciphertext BLOB NOT NULL,
    wrapped_key       BLOB NOT NULL,
    key_id            TEXT NOT NULL,
    secret_hint       TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'untested',
    status_message    TEXT NOT NULL DEFAULT '',
    status_code       INTEGER,
    checked_at        TEXT,
    created_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at        TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (provider_id, name)
) STRICT;
CREATE INDEX credentials_by_provider ON credentials (provider_id);
)sql"},
    {3, "users and access keys", R"sql(
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    display_name     TEXT NOT NULL,
    email            TEXT UNIQUE,
    external_subject TEXT UNIQUE,
    role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    disabled         INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE TABLE access_keys (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL UNIQUE,
    last4        TEXT NOT NULL,
    digest       BLOB NOT NULL UNIQUE,
    app          TEXT NOT NULL DEFAULT '',
    models       TEXT,
    rpm          INTEGER CHECK (rpm > 0),
    tpm          INTEGER CHECK (tpm > 0),
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX access_keys_by_user ON access_keys (user_id);
)sql"},
    {4, "models listed by providers", R"sql(
CREATE TABLE provider_models (
    provider_id INTEGER NOT NULL REFERENCES providers (id) ON DELETE CASCADE,
    model       TEXT NOT NULL,
    listed_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (provider_id, model)
) STRICT;
)sql"},
    {5, "usage records", R"sql(
CREATE TABLE usage_records (
    id                INTEGER PRIMARY KEY,
    request_id        TEXT NOT NULL,
    user_id           INTEGER,
    key_id            INTEGER,
    app               TEXT NOT NULL DEFAULT '',
    provider          TEXT NOT NULL DEFAULT '',
    credential_id     INTEGER,
    model_requested   TEXT NOT NULL DEFAULT '',
    model_served      TEXT NOT NULL DEFAULT '',
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
    images            INTEGER NOT NULL DEFAULT 0,
    status            INTEGER NOT NULL,
    error_kind        TEXT NOT NULL DEFAULT '',
    latency_us        INTEGER NOT NULL DEFAULT 0,
    ttfb_us           INTEGER,
    upstream_ttfb_us  INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL
) STRICT;
CREATE INDEX usage_by_time ON usage_records (created_at);
CREATE INDEX usage_by_key ON usage_records (key_id, created_at);
)sql"},
    {6, "prompt-cache writes in usage records", R"sql(
ALTER TABLE usage_records ADD COLUMN cache_write_5m_tokens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_records ADD COLUMN cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0;
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
