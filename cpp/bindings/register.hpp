#pragma once

#include <pybind11/pybind11.h>

namespace aignehub::bindings {

void register_errors(pybind11::module_& m);
void register_hub(pybind11::module_& m);

} // namespace aignehub::bindings
