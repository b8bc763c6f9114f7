#pragma once

#include <stdexcept>
#include <string>
#include <system_error>

/// Control-plane exceptions. The data plane never throws for expected failures: it answers with
/// an error response built by aignehub::http::make_error (see http/errors.hpp in the sources).
namespace aignehub {

/// Base of every exception the core throws on purpose; crosses into Python as AignehubError.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A setting is out of range or malformed; crosses into Python as ConfigError (a ValueError).
class config_error : public error {
public:
    using error::error;
};

/// The store cannot be opened, migrated or queried; crosses into Python as StoreError.
class store_error : public error {
public:
    using error::error;
};

/// The database was written by a newer aignehub than this one; crosses into Python as
/// SchemaVersionError (a StoreError).
class schema_version_error : public store_error {
public:
    schema_version_error(int found, int known);
    [[nodiscard]] int found() const noexcept { return found_; }
    [[nodiscard]] int known() const noexcept { return known_; }

private:
    int found_;
    int known_;
};

/// A value given to the control plane is invalid; names the field. HTTP 400, Python InvalidInput
/// (a ConfigError).
class invalid_input : public config_error {
public:
    invalid_input(std::string field, const std::string& message)
        : config_error(field + ": " + message), field_(std::move(field)) {}
    [[nodiscard]] const std::string& field() const noexcept { return field_; }

private:
    std::string field_;
};

/// The named thing does not exist. HTTP 404, Python NotFoundError (a LookupError).
class not_found_error : public error {
public:
    using error::error;
};

/// The caller may not do this. HTTP 403, Python ForbiddenError (a PermissionError).
class forbidden_error : public error {
public:
    using error::error;
};

/// The change conflicts with what is stored (a duplicate name, an environment-managed row).
/// HTTP 409, Python ConflictError.
class conflict_error : public error {
public:
    using error::error;
};

/// A provider refused or did not accept a credential that was to be saved with validation.
/// HTTP 422, Python CredentialRejected; `outcome` is the credential status it would have had.
class credential_rejected : public error {
public:
    credential_rejected(std::string outcome, const std::string& message)
        : error(message), outcome_(std::move(outcome)) {}
    [[nodiscard]] const std::string& outcome() const noexcept { return outcome_; }

private:
    std::string outcome_;
};

/// The listener could not bind or listen; crosses into Python as BindError (an OSError whose
/// errno is the system's).
class bind_error : public error {
public:
    bind_error(const std::string& what, std::error_code code);
    [[nodiscard]] const std::error_code& code() const noexcept { return code_; }

private:
    std::error_code code_;
};

/// A cryptographic operation failed, such as a sealed value that does not authenticate. The
/// message never holds key material or secret data.
class crypto_error : public error {
public:
    using error::error;
};

} // namespace aignehub
