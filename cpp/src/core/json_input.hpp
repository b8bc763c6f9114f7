#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

/// Field-by-field reading of control-plane JSON inputs. Every failure is an invalid_input that
/// names the field and never repeats its value (which may be a secret).
namespace aignehub::detail {

/// Refuses anything but an object holding only `allowed` fields, so a typo is never ignored.
void only_fields(const nlohmann::json& input, std::initializer_list<std::string_view> allowed);

/// Refuses an explicit null for any of `fields` (fields that cannot be cleared).
void no_nulls(const nlohmann::json& input, std::initializer_list<const char*> fields);

/// True when `field` is present and not null.
[[nodiscard]] bool has(const nlohmann::json& input, const char* field);

/// True when `text` holds no control character.
[[nodiscard]] bool printable(std::string_view text) noexcept;

/// A string of at most `max_length` bytes without control characters.
[[nodiscard]] std::string text_field(const nlohmann::json& input, const char* field,
                                     std::size_t max_length);

[[nodiscard]] bool bool_field(const nlohmann::json& input, const char* field);

/// A whole number from `min` to `max`.
[[nodiscard]] std::int64_t int_field(const nlohmann::json& input, const char* field,
                                     std::int64_t min, std::int64_t max);

} // namespace aignehub::detail
