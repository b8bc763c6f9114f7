#include "aignehub/providers.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/store.hpp"
#include "core/json_input.hpp"
#include "core/master_keys.hpp"
#include "providers/catalogue.hpp"
#include "providers/secrets.hpp"
#include "upstream/address.hpp"
#include "upstream/client.hpp"
#include "upstream/url.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <map>
#include <set>

namespace aignehub {

using detail::bool_field;
using detail::has;
using detail::int_field;
using detail::no_nulls;
using detail::only_fields;
using detail::text_field;
using nlohmann::json;
using providers::provider_kind;

namespace {

constexpr std::size_t max_settings_bytes = 16 * 1024;
constexpr std::size_t max_key_length = 4096;
constexpr std::int64_t max_weight = 10'000;

std::string now_utc() {
    const auto now = std::chrono::system_clock::now();
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const auto seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    std::array<char, 32> text{};
    const std::size_t n = std::strftime(text.data(), text.size(), "%Y-%m-%dT%H:%M:%S", &tm);
    const auto millis = ms % 1000;
    std::array<char, 8> frac{};
    std::snprintf(frac.data(), frac.size(), ".%03dZ", static_cast<int>(millis));
    return std::string(text.data(), n) + frac.data();
}

// --- input checking --------------------------------------------------------------------------

std::int64_t weight_field(const json& input) {
    return int_field(input, "weight", 1, max_weight);
}

std::string name_field(const json& input, const char* field) {
    const std::string name = text_field(input, field, 64);
    const bool ok = !name.empty() &&
                    (std::isalnum(static_cast<unsigned char>(name.front())) != 0) &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                               c == '_' || c == '.';
                    });
    if (!ok) {
        throw invalid_input(field, "must be 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with "
                                   "a letter or digit");
    }
    return name;
}

// Keys go into a header: printable, no spaces, bounded; required unless the kind needs none.
void check_key(std::string_view key, const provider_kind& kind, const std::string& field) {
    if (key.empty() && kind.key_required) {
        throw invalid_input(field, "must not be empty: " + std::string(kind.kind) +
                                       " providers need a key");
    }
    if (key.size() > max_key_length) {
        throw invalid_input(field, "must be at most 4096 characters");
    }
    const bool clean = std::none_of(key.begin(), key.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x21 || u == 0x7f;
    });
    if (!clean) {
        throw invalid_input(field, "must not contain spaces or control characters");
    }
}

std::string api_key_field(const json& input, const provider_kind& kind) {
    const json& value = input.at("api_key");
    if (!value.is_string()) {
        throw invalid_input("api_key", "must be a string");
    }
    const auto& key = value.get_ref<const std::string&>();
    check_key(key, kind, "api_key");
    return key;
}

// Strings anywhere in the settings may reach an upstream header one day: no CR, LF or NUL.
void check_settings_strings(const json& value) {
    if (value.is_string() && upstream::breaks_header(value.get_ref<const std::string&>())) {
        throw invalid_input("settings", "values must not contain CR, LF or NUL");
    }
    if (value.is_structured()) {
        for (const auto& [key, item] : value.items()) {
            if (upstream::breaks_header(key)) {
                throw invalid_input("settings", "keys must not contain CR, LF or NUL");
            }
            check_settings_strings(item);
        }
    }
}

std::string settings_field(const json& input) {
    const json& value = input.at("settings");
    if (!value.is_object()) {
        throw invalid_input("settings", "must be a JSON object");
    }
    check_settings_strings(value);
    std::string text = value.dump();
    if (text.size() > max_settings_bytes) {
        throw invalid_input("settings", "must be at most 16 KiB of JSON");
    }
    return text;
}

const provider_kind& kind_of(const std::string& kind) {
    const provider_kind* found = providers::find_kind(kind);
    if (found == nullptr) {
        std::string known;
        for (const auto& k : providers::catalogue()) {
            known += (known.empty() ? "" : ", ") + std::string(k.kind);
        }
        throw invalid_input("kind", "unknown provider kind '" + kind + "'; known: " + known);
    }
    return *found;
}

// Checks a base URL: well formed, http only for local providers, and (when the host is an
// address or resolves now) no loopback, private, link-local or metadata address unless local.
// The addresses a URL's host resolves to now; none when it does not resolve here.
std::vector<boost::asio::ip::address> addresses_of(const upstream::url& url) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::resolver resolver(io);
    boost::system::error_code ec;
    const auto results = resolver.resolve(url.host, std::to_string(url.port), ec);
    std::vector<boost::asio::ip::address> out;
    if (!ec) {
        for (const auto& entry : results) {
            out.push_back(entry.endpoint().address());
        }
    }
    return out;
}

// A host that does not resolve here is accepted: the upstream client checks again at connect.
upstream::url checked_base_url(const std::string& text, bool local, const char* field) {
    std::string why;
    auto parsed = upstream::parse_base_url(text, why);
    if (!parsed) {
        throw invalid_input(field, why);
    }
    if (parsed->scheme == "http" && !local) {
        throw invalid_input(field, "plain http is allowed only for providers marked local");
    }
    for (const auto& address : addresses_of(*parsed)) {
        if (!upstream::may_connect(address, local)) {
            const std::string where(upstream::describe(upstream::classify(address)));
            throw invalid_input(field, "the host resolves to " + where +
                                           (upstream::may_connect(address, true)
                                                ? "; mark the provider local to allow it"
                                                : ", which no provider may reach"));
        }
    }
    return *parsed;
}

std::string effective_base_url(const provider_row& row, const provider_kind& kind) {
    return row.base_url.value_or(std::string(kind.default_base_url));
}

// --- answers from providers --------------------------------------------------------------------

// The human part of a provider's error body: OpenAI, Anthropic and Gemini put it in
// error.message, OpenRouter too, Mistral in detail, xAI in error as a string.
std::string provider_message(const std::string& body) {
    const json parsed = json::parse(body, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_object()) {
        if (parsed.contains("error")) {
            const json& e = parsed["error"];
            if (e.is_object() && e.contains("message") && e["message"].is_string()) {
                return e["message"].get<std::string>();
            }
            if (e.is_string()) {
                return e.get<std::string>();
            }
        }
        for (const char* field : {"message", "detail"}) {
            if (parsed.contains(field) && parsed[field].is_string()) {
                return parsed[field].get<std::string>();
            }
        }
    }
    std::string text = body.substr(0, 200);
    std::replace_if(
        text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
    return text;
}

// The model ids of a listing: OpenAI, Anthropic and their kin put them in data[].id, Gemini
// in models[].name as "models/<id>", Ollama's native listing in models[].name.
std::vector<std::string> listed_models(const std::string& body) {
    std::vector<std::string> ids;
    const json parsed = json::parse(body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
        return ids;
    }
    const auto collect = [&](const char* list, const char* field) {
        if (!parsed.contains(list) || !parsed[list].is_array()) {
            return;
        }
        for (const auto& item : parsed[list]) {
            if (item.is_object() && item.contains(field) && item[field].is_string()) {
                std::string id = item[field].get<std::string>();
                if (id.starts_with("models/")) {
                    id.erase(0, 7);
                }
                if (!id.empty() && id.size() <= 200 && detail::printable(id)) {
                    ids.push_back(std::move(id));
                }
            }
        }
    };
    collect("data", "id");
    collect("models", "name");
    return ids;
}

json credential_json(const credential_row& row, const std::string& provider) {
    return {{"id", row.id},
            {"provider", provider},
            {"name", row.name},
            {"weight", row.weight},
            {"enabled", row.enabled},
            {"source", row.source},
            {"key_hint", row.secret_hint},
            {"status", row.status},
            {"status_message", row.status_message},
            {"status_code", row.status_code ? json(*row.status_code) : json(nullptr)},
            {"checked_at", row.checked_at ? json(*row.checked_at) : json(nullptr)},
            {"created_at", row.created_at},
            {"updated_at", row.updated_at}};
}

// "Connected", "n of N invalid", "Not configured", or the state the enabled credentials share.
std::string provider_status(const provider_row& provider,
                            const std::vector<credential_row>& credentials) {
    if (!provider.enabled) {
        return "Disabled";
    }
    std::size_t enabled = 0;
    std::map<std::string, std::size_t> by_status;
    for (const auto& c : credentials) {
        if (c.enabled) {
            ++enabled;
            ++by_status[c.status];
        }
    }
    if (enabled == 0) {
        return "Not configured";
    }
    const auto count = [&](const char* status) {
        const auto it = by_status.find(status);
        return it == by_status.end() ? std::size_t{0} : it->second;
    };
    if (count("invalid_key") > 0) {
        return std::to_string(count("invalid_key")) + " of " + std::to_string(enabled) + " invalid";
    }
    if (count("connected") == enabled) {
        return "Connected";
    }
    if (count("connected") > 0) {
        return "Connected (" + std::to_string(count("connected")) + " of " +
               std::to_string(enabled) + ")";
    }
    for (const auto& [status, label] :
         {std::pair{"unreachable", "Unreachable"}, std::pair{"rate_limited", "Rate limited"},
          std::pair{"error", "Error"}}) {
        if (count(status) > 0) {
            return label;
        }
    }
    return "Untested";
}

} // namespace

struct provider_service::check_outcome {
    std::string status; // connected | invalid_key | unreachable | rate_limited | error
    std::string message;
    std::optional<std::int64_t> code;
    std::vector<std::string> models; // what a successful listing named
};

void provider_service::notify_change() {
    const auto version = std::stoll(db_->get_setting(config_version_setting, "0"));
    db_->put_setting(config_version_setting, std::to_string(version + 1));
    if (on_change_) {
        on_change_();
    }
}

provider_service::change_guard::~change_guard() {
    if (!changed) {
        return;
    }
    try {
        service.notify_change();
    } catch (const std::exception&) {
        // A destructor must not throw; the next change or the servers' poll catches up.
    }
}

provider_service::provider_service(std::shared_ptr<store> db,
                                   std::shared_ptr<detail::master_keys> keys)
    : db_(std::move(db)), keys_(std::move(keys)) {}

json provider_service::catalogue() const {
    json out = json::array();
    for (const auto& k : providers::catalogue()) {
        out.push_back(
            {{"kind", k.kind},
             {"display_name", k.display_name},
             {"wire", k.wire},
             {"default_base_url",
              k.default_base_url.empty() ? json(nullptr) : json(std::string(k.default_base_url))},
             {"auth", providers::auth_name(k.auth)},
             {"key_required", k.key_required},
             {"local_by_default", k.local_by_default},
             {"models_path", k.models_path},
             {"check_path", k.check_path},
             {"env_key", k.env_key.empty() ? json(nullptr) : json(std::string(k.env_key))},
             {"env_base_url",
              k.env_base_url.empty() ? json(nullptr) : json(std::string(k.env_base_url))}});
    }
    return out;
}

provider_row provider_service::provider_named(const std::string& name) const {
    auto row = db_->find_provider(name);
    if (!row) {
        throw not_found_error("no provider named '" + name + "'");
    }
    return *row;
}

credential_row provider_service::credential_of(const provider_row& provider,
                                               std::int64_t id) const {
    auto row = db_->find_credential(provider.id, id);
    if (!row) {
        throw not_found_error("provider '" + provider.name + "' has no credential " +
                              std::to_string(id));
    }
    return *row;
}

json provider_service::provider_json(const provider_row& row) const {
    const provider_kind& kind = kind_of(row.kind);
    const auto credentials = db_->list_credentials(row.id);
    json creds = json::array();
    for (const auto& c : credentials) {
        creds.push_back(credential_json(c, row.name));
    }
    return {{"id", row.id},
            {"name", row.name},
            {"kind", row.kind},
            {"display_name", row.display_name},
            {"wire", kind.wire},
            {"base_url", effective_base_url(row, kind)},
            {"base_url_is_default", !row.base_url.has_value()},
            {"local", row.local},
            {"enabled", row.enabled},
            {"settings", json::parse(row.settings, nullptr, false)},
            {"source", row.source},
            {"status", provider_status(row, credentials)},
            {"credentials", std::move(creds)},
            {"created_at", row.created_at},
            {"updated_at", row.updated_at}};
}

json provider_service::list() const {
    json out = json::array();
    for (const auto& row : db_->list_providers()) {
        out.push_back(provider_json(row));
    }
    return out;
}

json provider_service::get(const std::string& name) const {
    return provider_json(provider_named(name));
}

provider_service::check_outcome provider_service::check(const provider_row& provider,
                                                        std::string_view secret) const {
    const provider_kind& kind = kind_of(provider.kind);
    std::string why;
    const auto base = upstream::parse_base_url(effective_base_url(provider, kind), why);
    if (!base) {
        return {"error", "the base URL " + why, std::nullopt, {}};
    }
    upstream::fetch_request request;
    request.origin = *base;
    request.target = base->path + std::string(kind.check_path);
    request.local = provider.local;
    request.connect_timeout = std::chrono::seconds(5);
    request.total_timeout = std::chrono::seconds(10);
    if (!secret.empty()) {
        const auto header = providers::auth_header_of(kind.auth);
        request.headers.emplace_back(std::string(header.name),
                                     std::string(header.prefix) + std::string(secret));
    }
    if (!kind.extra_header_name.empty()) {
        request.headers.emplace_back(std::string(kind.extra_header_name),
                                     std::string(kind.extra_header_value));
    }
    const upstream::fetch_result result = upstream::fetch_blocking(std::move(request));
    if (result.error != upstream::fetch_error::none) {
        return {"unreachable", providers::scrub(result.message, secret), std::nullopt, {}};
    }
    const auto code = static_cast<std::int64_t>(result.status);
    const std::string message = providers::scrub(provider_message(result.body), secret);
    if (result.status >= 200 && result.status < 300) {
        auto models = listed_models(result.body);
        const std::size_t n = models.size();
        return {"connected",
                n > 0 ? "OK: " + std::to_string(n) + " models listed" : std::string("OK"), code,
                std::move(models)};
    }
    if (result.status == 401 || result.status == 403 ||
        (!kind.invalid_key_marker.empty() &&
         result.body.find(kind.invalid_key_marker) != std::string::npos)) {
        return {"invalid_key", message, code, {}};
    }
    if (result.status == 429) {
        return {"rate_limited", message, code, {}};
    }
    return {"error", "HTTP " + std::to_string(result.status) + ": " + message, code, {}};
}

credential_row provider_service::record(credential_row row, const check_outcome& outcome) const {
    if (!outcome.models.empty() && row.provider_id != 0) {
        db_->replace_provider_models(row.provider_id, outcome.models);
    }
    row.status = outcome.status;
    row.status_message = outcome.message;
    row.status_code = outcome.code;
    row.checked_at = now_utc();
    return row;
}

credential_row provider_service::insert_credential(const provider_row& provider, credential_row row,
                                                   const std::string& secret) {
    row.provider_id = provider.id;
    row.secret_hint = providers::mask(secret);
    return db_->insert_credential(row, [&](credential_row& r) { keys_->seal(r, secret); });
}

namespace {

// A failed check stops a validated save; rate limiting means the key was accepted.
bool acceptable(const std::string& status) {
    return status == "connected" || status == "rate_limited";
}

[[noreturn]] void reject(const std::string& status, const std::string& message) {
    const std::string what = status == "invalid_key"   ? "the provider refused the key"
                             : status == "unreachable" ? "the provider could not be reached"
                                                       : "the key could not be checked";
    throw credential_rejected(status, what + (message.empty() ? "" : ": " + message) +
                                          " (save it anyway with validate=false)");
}

void refuse_env_managed(const std::string& source, const std::string& what) {
    if (source == "env") {
        throw conflict_error(what + " comes from the environment; change the environment "
                                    "variable and restart instead");
    }
}

} // namespace

json provider_service::add(const json& input) {
    const change_guard changed{*this};
    only_fields(input, {"kind", "name", "display_name", "base_url", "local", "enabled", "settings",
                        "api_key", "credential_name", "weight", "validate"});
    if (!has(input, "kind")) {
        throw invalid_input("kind", "is required");
    }
    const provider_kind& kind = kind_of(text_field(input, "kind", 64));
    provider_row row;
    row.kind = std::string(kind.kind);
    row.name = has(input, "name") ? name_field(input, "name") : row.kind;
    row.display_name = has(input, "display_name") ? text_field(input, "display_name", 100)
                                                  : std::string(kind.display_name);
    row.local = has(input, "local") ? bool_field(input, "local") : kind.local_by_default;
    row.enabled = has(input, "enabled") ? bool_field(input, "enabled") : true;
    if (has(input, "settings")) {
        row.settings = settings_field(input);
    }
    if (has(input, "base_url")) {
        row.base_url =
            checked_base_url(text_field(input, "base_url", 2048), row.local, "base_url").text();
    } else if (kind.default_base_url.empty()) {
        throw invalid_input("base_url", "is required for " + row.kind + " providers");
    } else if (std::string_view(kind.default_base_url).starts_with("http://") && !row.local) {
        throw invalid_input("local", "must stay true for the default " + row.kind + " URL");
    }
    std::optional<std::string> secret;
    if (has(input, "api_key")) {
        secret = api_key_field(input, kind);
    } else if (!kind.key_required) {
        secret = std::string();
    }
    if (has(input, "credential_name") || has(input, "weight") || has(input, "validate")) {
        if (!has(input, "api_key") && kind.key_required) {
            throw invalid_input("api_key", "is required with credential_name, weight or validate");
        }
    }
    credential_row credential;
    credential.name =
        has(input, "credential_name") ? name_field(input, "credential_name") : "default";
    credential.weight = has(input, "weight") ? weight_field(input) : 100;
    const bool validate = has(input, "validate") ? bool_field(input, "validate") : true;
    if (db_->find_provider(row.name)) {
        throw conflict_error("a provider named '" + row.name + "' already exists");
    }

    // The key is checked before anything is written, so a refused key leaves nothing behind.
    std::optional<check_outcome> outcome;
    if (secret) {
        outcome = check(row, *secret);
        if (validate && !acceptable(outcome->status)) {
            reject(outcome->status, outcome->message);
        }
    }
    const provider_row stored = db_->insert_provider(row);
    if (secret) {
        try {
            credential.provider_id = stored.id;
            insert_credential(stored, record(credential, *outcome), *secret);
        } catch (...) {
            db_->delete_provider(stored.id);
            throw;
        }
    }
    return provider_json(stored);
}

json provider_service::update(const std::string& name, const json& patch) {
    const change_guard changed{*this};
    only_fields(patch, {"name", "display_name", "base_url", "local", "enabled", "settings"});
    no_nulls(patch, {"name", "display_name", "local", "enabled", "settings"});
    provider_row row = provider_named(name);
    refuse_env_managed(row.source, "provider '" + name + "'");
    const provider_kind& kind = kind_of(row.kind);
    if (has(patch, "name")) {
        row.name = name_field(patch, "name");
    }
    if (has(patch, "display_name")) {
        row.display_name = text_field(patch, "display_name", 100);
    }
    if (has(patch, "local")) {
        row.local = bool_field(patch, "local");
    }
    if (has(patch, "enabled")) {
        row.enabled = bool_field(patch, "enabled");
    }
    if (has(patch, "settings")) {
        row.settings = settings_field(patch);
    }
    if (patch.contains("base_url")) {
        if (patch.at("base_url").is_null()) {
            if (kind.default_base_url.empty()) {
                throw invalid_input("base_url", "is required for " + row.kind + " providers");
            }
            row.base_url.reset();
        } else {
            row.base_url = text_field(patch, "base_url", 2048);
        }
    }
    // The URL is checked against the final local flag, so clearing local on a provider with a
    // private URL is refused too.
    const upstream::url checked =
        checked_base_url(effective_base_url(row, kind), row.local, "base_url");
    if (row.base_url) {
        row.base_url = checked.text();
    }
    return provider_json(db_->update_provider(row));
}

void provider_service::remove(const std::string& name) {
    const change_guard changed{*this};
    const provider_row row = provider_named(name);
    refuse_env_managed(row.source, "provider '" + name + "'");
    db_->delete_provider(row.id);
}

json provider_service::test(const std::string& name) {
    const change_guard changed{*this};
    const provider_row provider = provider_named(name);
    for (const auto& credential : db_->list_credentials(provider.id)) {
        const std::string secret = keys_->open(credential);
        db_->update_credential(record(credential, check(provider, secret)));
    }
    return provider_json(provider_named(name));
}

json provider_service::list_credentials(const std::string& provider) const {
    const provider_row row = provider_named(provider);
    json out = json::array();
    for (const auto& c : db_->list_credentials(row.id)) {
        out.push_back(credential_json(c, row.name));
    }
    return out;
}

json provider_service::get_credential(const std::string& provider, std::int64_t id) const {
    const provider_row row = provider_named(provider);
    return credential_json(credential_of(row, id), row.name);
}

json provider_service::add_credential(const std::string& provider, const json& input) {
    const change_guard changed{*this};
    only_fields(input, {"api_key", "name", "weight", "enabled", "validate"});
    const provider_row row = provider_named(provider);
    const provider_kind& kind = kind_of(row.kind);
    std::string secret;
    if (has(input, "api_key")) {
        secret = api_key_field(input, kind);
    } else if (kind.key_required) {
        throw invalid_input("api_key", "is required");
    }
    credential_row credential;
    credential.name = has(input, "name") ? name_field(input, "name") : "default";
    credential.weight = has(input, "weight") ? weight_field(input) : 100;
    credential.enabled = has(input, "enabled") ? bool_field(input, "enabled") : true;
    const bool validate = has(input, "validate") ? bool_field(input, "validate") : true;
    for (const auto& existing : db_->list_credentials(row.id)) {
        if (existing.name == credential.name) {
            throw conflict_error("provider '" + row.name + "' already has a credential named '" +
                                 credential.name + "'");
        }
    }
    const check_outcome outcome = check(row, secret);
    if (validate && !acceptable(outcome.status)) {
        reject(outcome.status, outcome.message);
    }
    credential.provider_id = row.id;
    return credential_json(insert_credential(row, record(credential, outcome), secret), row.name);
}

json provider_service::update_credential(const std::string& provider, std::int64_t id,
                                         const json& patch) {
    const change_guard changed{*this};
    only_fields(patch, {"api_key", "name", "weight", "enabled", "validate"});
    no_nulls(patch, {"api_key", "name", "weight", "enabled", "validate"});
    const provider_row row = provider_named(provider);
    credential_row credential = credential_of(row, id);
    refuse_env_managed(credential.source, "credential " + std::to_string(id));
    if (has(patch, "name")) {
        credential.name = name_field(patch, "name");
    }
    if (has(patch, "weight")) {
        credential.weight = weight_field(patch);
    }
    if (has(patch, "enabled")) {
        credential.enabled = bool_field(patch, "enabled");
    }
    const bool validate = has(patch, "validate") ? bool_field(patch, "validate") : true;
    if (has(patch, "api_key")) {
        const std::string secret = api_key_field(patch, kind_of(row.kind));
        const check_outcome outcome = check(row, secret);
        if (validate && !acceptable(outcome.status)) {
            reject(outcome.status, outcome.message);
        }
        credential = record(credential, outcome);
        credential.secret_hint = providers::mask(secret);
        keys_->seal(credential, secret);
    }
    return credential_json(db_->update_credential(credential), row.name);
}

void provider_service::remove_credential(const std::string& provider, std::int64_t id) {
    const change_guard changed{*this};
    const provider_row row = provider_named(provider);
    const credential_row credential = credential_of(row, id);
    refuse_env_managed(credential.source, "credential " + std::to_string(id));
    db_->delete_credential(credential.id);
}

json provider_service::test_credential(const std::string& provider, std::int64_t id) {
    const change_guard changed{*this};
    const provider_row row = provider_named(provider);
    const credential_row credential = credential_of(row, id);
    const std::string secret = keys_->open(credential);
    return credential_json(db_->update_credential(record(credential, check(row, secret))),
                           row.name);
}

json provider_service::aliases() const {
    json table = json::parse(db_->get_setting(aliases_setting, "{}"), nullptr, false);
    return table.is_object() ? table : json::object();
}

json provider_service::set_alias(const std::string& alias, const json& input) {
    const change_guard changed{*this};
    detail::only_fields(input, {"target"});
    if (alias.empty() || alias.size() > 256 || !detail::printable(alias) ||
        alias.find(' ') != std::string::npos) {
        throw invalid_input("alias", "must be 1 to 256 characters without spaces");
    }
    if (!detail::has(input, "target")) {
        throw invalid_input("target", "is required: the model the alias stands for");
    }
    const std::string target = detail::text_field(input, "target", 256);
    if (target.empty() || target.find(' ') != std::string::npos) {
        throw invalid_input("target", "must be a model name without spaces");
    }
    json table = aliases();
    if (table.contains(target) || target == alias) {
        throw invalid_input("target", "is an alias itself; aliases do not chain");
    }
    for (const auto& [name, points_to] : table.items()) {
        if (points_to == alias) {
            throw invalid_input("alias", "is the target of the alias '" + name + "'");
        }
    }
    table[alias] = target;
    db_->put_setting(aliases_setting, table.dump());
    return {{"alias", alias}, {"target", target}};
}

void provider_service::remove_alias(const std::string& alias) {
    const change_guard changed{*this};
    json table = aliases();
    if (!table.contains(alias)) {
        throw not_found_error("no alias '" + alias + "'");
    }
    table.erase(alias);
    db_->put_setting(aliases_setting, table.dump());
}

void provider_service::apply_environment(const env_reader& env) {
    // Runs at every start: notify only when the environment really changed something.
    change_guard changed{*this, false};
    for (const provider_kind& kind : providers::catalogue()) {
        if (kind.env_key.empty() && kind.env_base_url.empty()) {
            continue;
        }
        const auto key_value = kind.env_key.empty() ? std::nullopt : env(kind.env_key);
        const auto base_value = kind.env_base_url.empty() ? std::nullopt : env(kind.env_base_url);
        std::vector<std::string> keys;
        if (key_value) {
            std::string_view rest = *key_value;
            while (!rest.empty()) {
                const auto comma = rest.find(',');
                std::string_view item = rest.substr(0, comma);
                while (!item.empty() && item.front() == ' ') {
                    item.remove_prefix(1);
                }
                while (!item.empty() && item.back() == ' ') {
                    item.remove_suffix(1);
                }
                if (!item.empty()) {
                    keys.emplace_back(item);
                }
                rest =
                    comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
            }
        }
        const bool wanted = !keys.empty() || (!kind.key_required && base_value);
        if (wanted && keys.empty()) {
            keys.emplace_back(); // a keyless local provider still gets its one credential
        }
        const std::string name(kind.kind);
        auto provider = db_->find_provider(name);

        if (!wanted) {
            if (provider) {
                for (const auto& c : db_->list_credentials(provider->id)) {
                    if (c.source == "env") {
                        db_->delete_credential(c.id);
                        changed.changed = true;
                    }
                }
                if (provider->source == "env") {
                    // Credentials added through the API keep the provider; it is theirs now.
                    if (db_->list_credentials(provider->id).empty()) {
                        db_->delete_provider(provider->id);
                        changed.changed = true;
                    } else {
                        provider->source = "api";
                        db_->update_provider(*provider);
                        changed.changed = true;
                    }
                }
            }
            continue;
        }
        const std::string var(kind.env_key.empty() ? kind.env_base_url : kind.env_key);
        for (const auto& key : keys) {
            check_key(key, kind, var);
        }
        if (!provider || provider->source == "env") {
            provider_row row = provider.value_or(provider_row{});
            row.kind = name;
            row.name = name;
            row.display_name = std::string(kind.display_name);
            row.source = "env";
            row.local = kind.local_by_default;
            row.base_url.reset();
            if (base_value) {
                std::string why;
                const auto parsed = upstream::parse_base_url(*base_value, why);
                if (!parsed) {
                    throw invalid_input(std::string(kind.env_base_url), why);
                }
                // The operator set this URL; a loopback or private one is a local server.
                for (const auto& address : addresses_of(*parsed)) {
                    if (!upstream::may_connect(address, false)) {
                        row.local = true;
                    }
                }
                if (parsed->scheme == "http") {
                    row.local = true;
                }
                row.base_url = parsed->text();
            }
            const bool same = provider && provider->base_url == row.base_url &&
                              provider->local == row.local &&
                              provider->display_name == row.display_name;
            if (!same) {
                provider = provider ? db_->update_provider(row) : db_->insert_provider(row);
                changed.changed = true;
            }
        }
        std::map<std::string, credential_row> existing;
        for (auto& c : db_->list_credentials(provider->id)) {
            if (c.source == "env") {
                existing.emplace(c.name, std::move(c));
            }
        }
        std::set<std::string> kept;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            const std::string cname = keys.size() == 1 ? "env" : "env-" + std::to_string(i + 1);
            kept.insert(cname);
            const auto found = existing.find(cname);
            if (found == existing.end()) {
                credential_row c;
                c.name = cname;
                c.source = "env";
                insert_credential(*provider, c, keys[i]);
                changed.changed = true;
            } else if (keys_->open(found->second) != keys[i]) {
                credential_row c = found->second;
                c.secret_hint = providers::mask(keys[i]);
                c.status = "untested";
                c.status_message.clear();
                c.status_code.reset();
                c.checked_at.reset();
                keys_->seal(c, keys[i]);
                db_->update_credential(c);
                changed.changed = true;
            }
        }
        for (const auto& [cname, c] : existing) {
            if (!kept.contains(cname)) {
                db_->delete_credential(c.id);
                changed.changed = true;
            }
        }
    }
}

} // namespace aignehub
