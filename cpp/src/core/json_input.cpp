#include "core/json_input.hpp"

#include "aignehub/errors.hpp"

#include <algorithm>

namespace aignehub::detail {

using nlohmann::json;

void only_fields(const json& input, std::initializer_list<std::string_view> allowed) {
    if (!input.is_object()) {
        throw invalid_input("body", "must be a JSON object");
    }
    for (const auto& [key, value] : input.items()) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            throw invalid_input(key, "is not a known field");
        }
    }
}

void no_nulls(const json& input, std::initializer_list<const char*> fields) {
    for (const char* field : fields) {
        if (input.contains(field) && input.at(field).is_null()) {
            throw invalid_input(field, "cannot be null");
        }
    }
}

bool has(const json& input, const char* field) {
    return input.contains(field) && !input.at(field).is_null();
}

bool printable(std::string_view text) noexcept {
    return std::none_of(text.begin(), text.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 || u == 0x7f;
    });
}

std::string text_field(const json& input, const char* field, std::size_t max_length) {
    const json& value = input.at(field);
    if (!value.is_string()) {
        throw invalid_input(field, "must be a string");
    }
    const auto& text = value.get_ref<const std::string&>();
    if (text.size() > max_length) {
        throw invalid_input(field, "must be at most " + std::to_string(max_length) + " characters");
    }
    if (!printable(text)) {
        throw invalid_input(field, "must not contain control characters (CR, LF, NUL, ...)");
    }
    return text;
}

bool bool_field(const json& input, const char* field) {
    const json& value = input.at(field);
    if (!value.is_boolean()) {
        throw invalid_input(field, "must be true or false");
    }
    return value.get<bool>();
}

std::int64_t int_field(const json& input, const char* field, std::int64_t min, std::int64_t max) {
    const json& value = input.at(field);
    if (!value.is_number_integer() || value.get<std::int64_t>() < min ||
        value.get<std::int64_t>() > max) {
        throw invalid_input(field, "must be a whole number from " + std::to_string(min) + " to " +
                                       std::to_string(max));
    }
    return value.get<std::int64_t>();
}

} // namespace aignehub::detail
