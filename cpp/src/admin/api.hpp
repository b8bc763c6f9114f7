#pragma once

#include "http/router.hpp"

#include <memory>

namespace aignehub {
class provider_service;
}

namespace aignehub::admin {

/// The admin HTTP API under /api/admin: JSON in, JSON out, errors in OpenAI's shape with the
/// offending field in "param". Until access keys exist, it answers only clients on this machine.
void add_routes(http::router& r, std::shared_ptr<provider_service> providers);

} // namespace aignehub::admin
