#pragma once

#include "aignehub/store.hpp"
#include "aignehub/users.hpp"

#include <nlohmann/json.hpp>

namespace aignehub::billing {

/// Reads usage records for `who`: owners, admins and the system see every record, members only
/// their own. `filter` holds since/until (RFC 3339), user_id, key_id, status (numbers or digit
/// strings, so a query string can pass them as they come), model, provider, limit (1 to 1,000,
/// default 100) and cursor (from a previous page). Answers {"object":"list","data":[...],
/// "next_cursor":...}; throws invalid_input naming a bad field.
[[nodiscard]] nlohmann::json query_usage(const store& db, const actor& who,
                                         const nlohmann::json& filter);

/// One record as JSON, in the field names of the API.
[[nodiscard]] nlohmann::json usage_json(const usage_row& row);

} // namespace aignehub::billing
