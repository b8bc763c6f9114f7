#pragma once

#include "http/router.hpp"
#include "upstream/pool.hpp"

#include <memory>

namespace aignehub {
namespace detail {
class master_keys;
class log_sink;
} // namespace detail
namespace billing {
class usage_writer;
}
namespace routing {
class routes;
}
} // namespace aignehub

namespace aignehub::gateway {

/// What the data path needs: the routing snapshot, the master keys to open a credential for
/// the one call that uses it, the usage writer, and the upstream connection pool.
struct services {
    std::shared_ptr<routing::routes> routes;
    std::shared_ptr<const detail::master_keys> secrets;
    std::shared_ptr<billing::usage_writer> usage;
    std::shared_ptr<upstream::pool> pool;
    upstream::call_limits limits;
    /// Attempts per request, the first included (retries and failover).
    unsigned max_attempts = 3;
};

/// The front doors: OpenAI's POST /v1/chat/completions, /v1/embeddings and
/// /v1/images/generations, and Anthropic's POST /v1/messages and /v1/messages/count_tokens, over
/// every provider wire (relayed when the client speaks the provider's wire, translated through
/// the canonical model otherwise). Each upstream attempt is logged to `log` (may be null), which
/// must outlive the routes.
void add_routes(http::router& r, std::shared_ptr<services> gateway, detail::log_sink* log);

} // namespace aignehub::gateway
