#pragma once

namespace aignehub {

/// The version of the core, the same string as the Python package's.
inline constexpr const char* version = AIGNEHUB_VERSION;

} // namespace aignehub
