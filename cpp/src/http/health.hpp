#pragma once

#include "http/router.hpp"

#include <memory>

namespace aignehub {
class store;
}

namespace aignehub::http {

/// GET /healthz (the process answers) and GET /readyz (the store answers too).
void add_health_routes(router& r, std::shared_ptr<store> db);

} // namespace aignehub::http
