#pragma once

#include "gateway/canonical.hpp"
#include "gateway/json_scan.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

/// What the wire codecs (anthropic_wire, gemini_wire, openai_codec) share: canonical values
/// built in one call, JSON fields read leniently, data URLs, generated ids and provider text
/// made safe to pass on.
namespace aignehub::gateway::codec {

// ---- canonical values ------------------------------------------------------------------------

[[nodiscard]] canon::part make_part(canon::part_kind kind, std::string text = {});
[[nodiscard]] canon::event make_event(canon::event_kind kind, std::string text = {}, int index = 0);

/// A request this codec cannot carry as it is: a bad_field with code invalid_request.
[[nodiscard]] bad_field refuse(std::string param, std::string message);

// ---- JSON (DOM) ------------------------------------------------------------------------------

/// A member of an object; null when it is absent or `object` is not an object.
[[nodiscard]] const ojson& member(const ojson& object, std::string_view key);
/// A member's text; empty when it is absent or not a string.
[[nodiscard]] std::string string_member(const ojson& object, std::string_view key);
/// A whole number as requests spell them (2, 2.0, 1e2); nullopt for anything else, and for
/// numbers out of int64_t's range.
[[nodiscard]] std::optional<std::int64_t> integer_of(const ojson& v);

/// Sets object[key] to the value, when there is one.
template <class T> void set_if(ojson& object, const char* key, const std::optional<T>& value) {
    if (value) {
        object[key] = *value;
    }
}

/// A tool's parameters, or the schema of a tool that takes none when they are not an object.
[[nodiscard]] ojson object_schema(const ojson& parameters);

// ---- JSON (scan) -----------------------------------------------------------------------------

/// The top-level value of `body` when it is valid JSON and an object.
[[nodiscard]] std::optional<scan::value> scan_object(std::string_view body);

// ---- reasoning -------------------------------------------------------------------------------

/// The thinking budget an effort level stands for (0 for "minimal" and "none"); nullopt for a
/// word that is not one.
[[nodiscard]] std::optional<std::int64_t> budget_of_effort(std::string_view effort);

// ---- data URLs -------------------------------------------------------------------------------

struct data_url {
    std::string media_type; ///< may be empty ("data:;base64,...")
    std::string data;       ///< base64
};

/// "data:<media type>[;param...];base64,<data>"; nullopt when `url` is not a base64 data URL.
[[nodiscard]] std::optional<data_url> parse_data_url(std::string_view url);
[[nodiscard]] std::string make_data_url(std::string_view media_type, std::string_view data);

// ---- text and ids ----------------------------------------------------------------------------

/// At most `max` bytes of `text`, cut on a UTF-8 boundary, with control characters as spaces:
/// a provider's text made fit for an error message.
[[nodiscard]] std::string clean_text(std::string_view text, std::size_t max);

/// `bytes` random bytes in lowercase hex (twice as many characters), for ids the gateway makes
/// up: a message or call that came without one.
[[nodiscard]] std::string random_hex(std::size_t bytes);

} // namespace aignehub::gateway::codec
