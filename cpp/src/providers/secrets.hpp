#pragma once

#include <string>
#include <string_view>

namespace aignehub::providers {

/// A secret as it may be shown: at most its first and last four characters (fewer for short
/// secrets, none below four), e.g. "sk-p...x9Qz".
[[nodiscard]] std::string mask(std::string_view secret);

/// `message` with every word that shares six or more characters with `secret` replaced by
/// "[redacted]": providers echo keys, or parts of them, in their error messages.
[[nodiscard]] std::string scrub(std::string_view message, std::string_view secret);

} // namespace aignehub::providers
