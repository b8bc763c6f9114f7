#include "register.hpp"

#include "aignehub/version.hpp"

PYBIND11_MODULE(_core, m) {
    m.doc() = "The C++ core of aignehub. Use the aignehub package, not this module.";
    m.attr("__version__") = aignehub::version;
    aignehub::bindings::register_errors(m);
    aignehub::bindings::register_hub(m);
}
