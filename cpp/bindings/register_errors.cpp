#include "register.hpp"

#include "aignehub/errors.hpp"

namespace py = pybind11;

namespace aignehub::bindings {

namespace {

// Exception classes live as long as the interpreter; the module holds a reference too.
PyObject* base_error = nullptr;
PyObject* config_error_type = nullptr;
PyObject* store_error_type = nullptr;
PyObject* schema_version_error_type = nullptr;
PyObject* bind_error_type = nullptr;
PyObject* invalid_input_type = nullptr;
PyObject* not_found_type = nullptr;
PyObject* conflict_type = nullptr;
PyObject* credential_rejected_type = nullptr;
PyObject* crypto_error_type = nullptr;
PyObject* forbidden_type = nullptr;

// Raises `type(message)` with extra attributes set on the instance.
void raise_with(PyObject* type, const char* message, const char* attribute,
                const std::string& value) {
    py::object instance = py::reinterpret_borrow<py::object>(type)(message);
    instance.attr(attribute) = value;
    PyErr_SetObject(type, instance.ptr());
}

PyObject* make_type(py::module_& m, const char* name, py::tuple bases, const char* doc) {
    const std::string qualified = std::string("aignehub.") + name;
    PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
    if (type == nullptr) {
        throw py::error_already_set();
    }
    m.add_object(name, py::reinterpret_borrow<py::object>(type));
    return type;
}

} // namespace

void register_errors(py::module_& m) {
    base_error = make_type(m, "AignehubError", py::make_tuple(py::handle(PyExc_Exception)),
                           "Base of every error aignehub raises on purpose.");
    config_error_type = make_type(
        m, "ConfigError", py::make_tuple(py::handle(base_error), py::handle(PyExc_ValueError)),
        "A setting is out of range or malformed.");
    store_error_type = make_type(m, "StoreError", py::make_tuple(py::handle(base_error)),
                                 "The store cannot be opened, migrated or queried.");
    schema_version_error_type =
        make_type(m, "SchemaVersionError", py::make_tuple(py::handle(store_error_type)),
                  "The database was written by a newer aignehub than this one.");
    bind_error_type =
        make_type(m, "BindError", py::make_tuple(py::handle(base_error), py::handle(PyExc_OSError)),
                  "The server could not bind or listen; errno says why.");

    invalid_input_type =
        make_type(m, "InvalidInput", py::make_tuple(py::handle(config_error_type)),
                  "A value given to the control plane is invalid; .field names it.");
    not_found_type = make_type(
        m, "NotFoundError", py::make_tuple(py::handle(base_error), py::handle(PyExc_LookupError)),
        "The named provider, credential or other object does not exist.");
    conflict_type = make_type(m, "ConflictError", py::make_tuple(py::handle(base_error)),
                              "The change conflicts with what is stored (a duplicate name, a "
                              "row managed by the environment).");
    credential_rejected_type =
        make_type(m, "CredentialRejected", py::make_tuple(py::handle(base_error)),
                  "The provider refused a key, or it could not be checked; .outcome says which "
                  "(invalid_key, unreachable, error). Pass validate=False to save it anyway.");
    crypto_error_type =
        make_type(m, "CryptoError", py::make_tuple(py::handle(base_error)),
                  "A stored secret could not be decrypted with the loaded master key.");

    forbidden_type =
        make_type(m, "ForbiddenError",
                  py::make_tuple(py::handle(base_error), py::handle(PyExc_PermissionError)),
                  "The caller's role does not allow this.");

    py::register_exception_translator([](std::exception_ptr p) {
        if (!p) {
            return;
        }
        try {
            std::rethrow_exception(p);
        } catch (const bind_error& e) {
            // OSError(errno, strerror) fills in .errno and .strerror.
            py::object args = py::make_tuple(e.code().value(), e.what());
            PyErr_SetObject(bind_error_type, args.ptr());
        } catch (const invalid_input& e) {
            raise_with(invalid_input_type, e.what(), "field", e.field());
        } catch (const config_error& e) {
            PyErr_SetString(config_error_type, e.what());
        } catch (const not_found_error& e) {
            PyErr_SetString(not_found_type, e.what());
        } catch (const conflict_error& e) {
            PyErr_SetString(conflict_type, e.what());
        } catch (const forbidden_error& e) {
            PyErr_SetString(forbidden_type, e.what());
        } catch (const credential_rejected& e) {
            raise_with(credential_rejected_type, e.what(), "outcome", e.outcome());
        } catch (const crypto_error& e) {
            PyErr_SetString(crypto_error_type, e.what());
        } catch (const schema_version_error& e) {
            PyErr_SetString(schema_version_error_type, e.what());
        } catch (const store_error& e) {
            PyErr_SetString(store_error_type, e.what());
        } catch (const error& e) {
            PyErr_SetString(base_error, e.what());
        }
    });
}

} // namespace aignehub::bindings
