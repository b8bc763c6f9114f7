#pragma once

#include "http/router.hpp"

#include <memory>

namespace aignehub {
class provider_service;
class user_service;
class store;
} // namespace aignehub

namespace aignehub::admin {

/// The admin HTTP API under /api/admin and the self-service /api/me: JSON in, JSON out, errors
/// in OpenAI's shape with the offending field in "param". Providers need an owner's or admin's
/// key; users and keys need any key, and the user service decides what its holder may do.
/// Usage records (GET /api/admin/usage) are read from `db`: all of them for owners and admins,
/// their own for members.
void add_routes(http::router& r, std::shared_ptr<provider_service> providers,
                std::shared_ptr<user_service> users, std::shared_ptr<store> db);

} // namespace aignehub::admin
