#include "register.hpp"

#include "aignehub/errors.hpp"
#include "aignehub/hub.hpp"
#include "aignehub/providers.hpp"
#include "aignehub/server.hpp"
#include "aignehub/store.hpp"
#include "aignehub/users.hpp"
#include "billing/usage_query.hpp"

#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <cmath>
#include <optional>

namespace py = pybind11;

namespace aignehub::bindings {

namespace {

std::chrono::milliseconds to_millis(double seconds, const char* name) {
    if (!std::isfinite(seconds) || seconds < 0 || seconds > 86400.0) {
        throw config_error(std::string(name) + ": must be a number of seconds from 0 to 86400");
    }
    return std::chrono::milliseconds(std::llround(seconds * 1000.0));
}

// Reads server settings from keyword arguments; None keeps server_config's default, so the
// defaults are written once, in C++. An unknown name is refused rather than ignored.
server_config to_config(const py::kwargs& settings) {
    server_config c;
    const auto number = [](const py::handle& value, const char* name) {
        if (py::isinstance<py::bool_>(value) || !py::isinstance<py::int_>(value)) {
            throw config_error(std::string(name) + ": must be a whole number");
        }
        const auto n = value.cast<long long>();
        if (n < 0) {
            throw config_error(std::string(name) + ": must not be negative");
        }
        return static_cast<unsigned long long>(n);
    };
    const auto seconds = [](const py::handle& value, const char* name) {
        if (py::isinstance<py::bool_>(value) ||
            !(py::isinstance<py::int_>(value) || py::isinstance<py::float_>(value))) {
            throw config_error(std::string(name) + ": must be a number of seconds");
        }
        return to_millis(value.cast<double>(), name);
    };
    for (const auto& [key, value] : settings) {
        const auto name = key.cast<std::string>();
        if (value.is_none()) {
            continue;
        }
        const char* n = name.c_str();
        if (name == "host") {
            c.host = value.cast<std::string>();
        } else if (name == "port") {
            const bool whole = py::isinstance<py::int_>(value) && !py::isinstance<py::bool_>(value);
            const long long port = whole ? value.cast<long long>() : -1;
            if (port < 0 || port > 65535) {
                throw config_error("port: must be between 0 and 65535");
            }
            c.port = static_cast<std::uint16_t>(port);
        } else if (name == "threads") {
            c.threads = static_cast<unsigned>(std::min(number(value, n), 1ULL << 20U));
        } else if (name == "max_header_bytes") {
            c.max_header_bytes = number(value, n);
        } else if (name == "max_body_bytes") {
            c.max_body_bytes = number(value, n);
        } else if (name == "max_connections") {
            c.max_connections = number(value, n);
        } else if (name == "header_timeout") {
            c.header_timeout = seconds(value, n);
        } else if (name == "body_timeout") {
            c.body_timeout = seconds(value, n);
        } else if (name == "idle_timeout") {
            c.idle_timeout = seconds(value, n);
        } else if (name == "write_timeout") {
            c.write_timeout = seconds(value, n);
        } else if (name == "shutdown_grace") {
            c.shutdown_grace = seconds(value, n);
        } else if (name == "upstream_connect_timeout") {
            c.upstream_connect_timeout = seconds(value, n);
        } else if (name == "upstream_first_byte_timeout") {
            c.upstream_first_byte_timeout = seconds(value, n);
        } else if (name == "upstream_gap_timeout") {
            c.upstream_gap_timeout = seconds(value, n);
        } else if (name == "upstream_timeout") {
            c.upstream_timeout = seconds(value, n);
        } else if (name == "access_log") {
            c.access_log = value.cast<std::string>();
        } else if (name == "usage_sync") {
            c.usage_sync = value.cast<std::string>();
        } else {
            throw config_error(name + ": not a server setting");
        }
    }
    return c;
}

} // namespace

void register_hub(py::module_& m) {
    m.def("latest_schema_version", &latest_schema_version,
          "The newest schema version this build knows.");

    py::class_<server>(m, "Server", "A running embedded HTTP server.")
        .def_property_readonly("port", &server::port)
        .def_property_readonly("host", &server::host)
        .def_property_readonly("running", &server::running)
        .def_property_readonly("connections", &server::connections)
        .def("stop", &server::stop, py::call_guard<py::gil_scoped_release>(),
             "Stops gracefully and joins the I/O threads. Idempotent.");

    py::class_<hub>(m, "Hub", "An aignehub installation: a data directory and its store.")
        .def(py::init<std::filesystem::path>(), py::arg("data_dir"),
             py::call_guard<py::gil_scoped_release>())
        .def_property_readonly("data_dir", &hub::data_dir)
        .def_property_readonly("database_path", &hub::database_path)
        .def_property_readonly("schema_version",
                               [](const hub& h) { return h.get_store()->schema_version(); })
        .def(
            "serve",
            [](const hub& h, const py::kwargs& settings) {
                const server_config config = to_config(settings);
                const py::gil_scoped_release release;
                return h.serve(config);
            },
            "Starts a server on this hub's store; returns once it listens. Keyword arguments "
            "are server_config's fields (times in seconds); None keeps a default.")
        .def_property_readonly("master_key_path", &hub::master_key_path)
        .def_property_readonly("master_key_id", &hub::master_key_id)
        .def(
            "rotate_master_key",
            [](hub& h) {
                const auto r = h.rotate_master_key();
                return py::make_tuple(r.old_key_id, r.new_key_id, r.resealed);
            },
            "Re-wraps every data key under a new master key; (old id, new id, count).")
        .def("catalogue", [](const hub& h) { return h.providers().catalogue().dump(); })
        .def(
            "bootstrap",
            [](const hub& h) -> std::optional<std::string> {
                const auto result = h.users().bootstrap();
                return result.is_null() ? std::nullopt : std::optional(result.dump());
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "users_list", [](const hub& h) { return h.users().list_users(actor::system()).dump(); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "user_get",
            [](const hub& h, std::int64_t id) {
                return h.users().get_user(actor::system(), id).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "user_add",
            [](const hub& h, const std::string& body) {
                return h.users().add_user(actor::system(), nlohmann::json::parse(body)).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "user_update",
            [](const hub& h, std::int64_t id, const std::string& body) {
                return h.users()
                    .update_user(actor::system(), id, nlohmann::json::parse(body))
                    .dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "keys_list",
            [](const hub& h, std::optional<std::int64_t> user_id) {
                return h.users().list_keys(actor::system(), user_id).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "key_get",
            [](const hub& h, std::int64_t id) {
                return h.users().get_key(actor::system(), id).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "key_create",
            [](const hub& h, const std::string& body) {
                return h.users().create_key(actor::system(), nlohmann::json::parse(body)).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "key_update",
            [](const hub& h, std::int64_t id, const std::string& body) {
                return h.users()
                    .update_key(actor::system(), id, nlohmann::json::parse(body))
                    .dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "key_revoke",
            [](const hub& h, std::int64_t id) {
                return h.users().revoke_key(actor::system(), id).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "aliases", [](const hub& h) { return h.providers().aliases().dump(); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "alias_set",
            [](const hub& h, const std::string& alias, const std::string& target) {
                return h.providers().set_alias(alias, {{"target", target}}).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "alias_remove",
            [](const hub& h, const std::string& alias) { h.providers().remove_alias(alias); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "usage_query",
            [](const hub& h, const std::string& filter) {
                return billing::query_usage(*h.get_store(), actor::system(),
                                            nlohmann::json::parse(filter))
                    .dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "providers_list", [](const hub& h) { return h.providers().list().dump(); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "provider_get",
            [](const hub& h, const std::string& name) { return h.providers().get(name).dump(); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "provider_add",
            [](const hub& h, const std::string& body) {
                return h.providers().add(nlohmann::json::parse(body)).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "provider_update",
            [](const hub& h, const std::string& name, const std::string& body) {
                return h.providers().update(name, nlohmann::json::parse(body)).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "provider_remove",
            [](const hub& h, const std::string& name) { h.providers().remove(name); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "provider_test",
            [](const hub& h, const std::string& name) { return h.providers().test(name).dump(); },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "credentials_list",
            [](const hub& h, const std::string& provider) {
                return h.providers().list_credentials(provider).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "credential_get",
            [](const hub& h, const std::string& provider, std::int64_t id) {
                return h.providers().get_credential(provider, id).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "credential_add",
            [](const hub& h, const std::string& provider, const std::string& body) {
                return h.providers().add_credential(provider, nlohmann::json::parse(body)).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "credential_update",
            [](const hub& h, const std::string& provider, std::int64_t id,
               const std::string& body) {
                return h.providers()
                    .update_credential(provider, id, nlohmann::json::parse(body))
                    .dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "credential_remove",
            [](const hub& h, const std::string& provider, std::int64_t id) {
                h.providers().remove_credential(provider, id);
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "credential_test",
            [](const hub& h, const std::string& provider, std::int64_t id) {
                return h.providers().test_credential(provider, id).dump();
            },
            py::call_guard<py::gil_scoped_release>())
        .def(
            "ping", [](const hub& h) { h.get_store()->ping(); },
            py::call_guard<py::gil_scoped_release>(),
            "Raises StoreError unless the store answers.");
}

} // namespace aignehub::bindings
