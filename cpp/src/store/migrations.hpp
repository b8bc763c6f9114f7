#pragma once

#include <span>
#include <string_view>

namespace aignehub::detail {

/// One step of the schema. Versions start at 1 and increase by one; a released migration is
/// never edited, only followed by a new one.
struct migration {
    int version;
    std::string_view name;
    std::string_view sql;
};

/// Every migration, oldest first.
[[nodiscard]] std::span<const migration> migrations() noexcept;

} // namespace aignehub::detail
