#pragma once

#include "http/router.hpp"

#include <memory>

namespace aignehub::routing {
class routes;
}

namespace aignehub::frontdoor {

/// The AIGNE Hub protocol's discovery and catalogue (docs/aigne-protocol.md):
/// GET /__blocklet__.js (the document @aigne/aigne-hub reads to find the hub component, mounted
/// at "/"), GET /api/ai/models?type= (no key: the listed models with their type and credit
/// rates) and GET /api/v2/status?model= (whether a model can be served now). The chat, image
/// and embedding calls are the gateway's (gateway/gateway.hpp).
void add_aigne_routes(http::router& r, std::shared_ptr<routing::routes> routes);

} // namespace aignehub::frontdoor
