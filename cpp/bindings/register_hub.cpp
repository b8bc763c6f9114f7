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

struct serve_args {
    std::string host;
    long port = 0;
    std::optional<unsigned> threads;
    std::optional<std::size_t> max_header_bytes;
    std::optional<std::uint64_t> max_body_bytes;
    std::optional<double> header_timeout;
    std::optional<double> body_timeout;
    std::optional<double> idle_timeout;
    std::optional<double> write_timeout;
    std::optional<double> shutdown_grace;
    std::optional<std::size_t> max_connections;
    std::optional<std::string> access_log;
};

// Unset arguments keep server_config's defaults, so the defaults are written once, in C++.
server_config to_config(const serve_args& a) {
    if (a.port < 0 || a.port > 65535) {
        throw config_error("port: must be between 0 and 65535");
    }
    server_config c;
    c.host = a.host;
    c.port = static_cast<std::uint16_t>(a.port);
    if (a.threads) {
        c.threads = *a.threads;
    }
    if (a.max_header_bytes) {
        c.max_header_bytes = *a.max_header_bytes;
    }
    if (a.max_body_bytes) {
        c.max_body_bytes = *a.max_body_bytes;
    }
    const auto set_time = [](std::chrono::milliseconds& field, std::optional<double> value,
                             const char* name) {
        if (value) {
            field = to_millis(*value, name);
        }
    };
    set_time(c.header_timeout, a.header_timeout, "header_timeout");
    set_time(c.body_timeout, a.body_timeout, "body_timeout");
    set_time(c.idle_timeout, a.idle_timeout, "idle_timeout");
    set_time(c.write_timeout, a.write_timeout, "write_timeout");
    set_time(c.shutdown_grace, a.shutdown_grace, "shutdown_grace");
    if (a.max_connections) {
        c.max_connections = *a.max_connections;
    }
    if (a.access_log) {
        c.access_log = *a.access_log;
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
            [](const hub& h, std::string host, long port, std::optional<unsigned> threads,
               std::optional<std::size_t> max_header_bytes,
               std::optional<std::uint64_t> max_body_bytes, std::optional<double> header_timeout,
               std::optional<double> body_timeout, std::optional<double> idle_timeout,
               std::optional<double> write_timeout, std::optional<double> shutdown_grace,
               std::optional<std::size_t> max_connections, std::optional<std::string> access_log) {
                const serve_args args{
                    std::move(host), port,           threads,         max_header_bytes,
                    max_body_bytes,  header_timeout, body_timeout,    idle_timeout,
                    write_timeout,   shutdown_grace, max_connections, std::move(access_log)};
                const server_config config = to_config(args);
                const py::gil_scoped_release release;
                return h.serve(config);
            },
            py::kw_only(), py::arg("host"), py::arg("port"), py::arg("threads") = py::none(),
            py::arg("max_header_bytes") = py::none(), py::arg("max_body_bytes") = py::none(),
            py::arg("header_timeout") = py::none(), py::arg("body_timeout") = py::none(),
            py::arg("idle_timeout") = py::none(), py::arg("write_timeout") = py::none(),
            py::arg("shutdown_grace") = py::none(), py::arg("max_connections") = py::none(),
            py::arg("access_log") = py::none(),
            "Starts a server on this hub's store; returns once it listens.")
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
