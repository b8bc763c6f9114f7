#include "aignehub/errors.hpp"

#include <string>

namespace aignehub {

schema_version_error::schema_version_error(int found, int known)
    : store_error("the database is at schema version " + std::to_string(found) +
                  ", newer than the " + std::to_string(known) +
                  " this aignehub knows; upgrade aignehub or use another data directory"),
      found_(found), known_(known) {}

bind_error::bind_error(const std::string& what, std::error_code code)
    : error(what + ": " + code.message()), code_(code) {}

} // namespace aignehub
