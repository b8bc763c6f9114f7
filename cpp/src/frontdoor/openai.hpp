#pragma once

#include "http/router.hpp"

#include <memory>

namespace aignehub::routing {
class routes;
}

namespace aignehub::frontdoor {

/// The models endpoints: GET /v1/models lists what the caller's key may use (in Anthropic's
/// shape when the request carries anthropic-version, as Anthropic's SDKs send it);
/// GET /v1/models/{provider}/{model} answers one, 403 when the key's allowlist excludes it.
void add_openai_routes(http::router& r, std::shared_ptr<routing::routes> routes);

} // namespace aignehub::frontdoor
