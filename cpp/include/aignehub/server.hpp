#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace aignehub {

class store;
class provider_service;
class user_service;
namespace auth {
class authenticator;
}
namespace routing {
class routes;
}
namespace detail {
class master_keys;
}

/// What a server serves: the store, and the control-plane services when the admin API and key
/// authentication are on.
struct server_services {
    std::shared_ptr<store> db;
    std::shared_ptr<provider_service> providers;
    std::shared_ptr<user_service> users;
    std::shared_ptr<auth::authenticator> keys;
    std::shared_ptr<routing::routes> routes;
    /// Opens provider credentials for the calls that use them.
    std::shared_ptr<const detail::master_keys> secrets;
    /// Where usage journals go (usage_sync "normal"); the hub's data directory.
    std::filesystem::path data_dir;
};

/// Everything the embedded HTTP server can be told. Defaults suit a production gateway.
struct server_config {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;
    /// I/O threads; 0 means one per core.
    unsigned threads = 0;
    /// Largest request header block (request line and fields); larger gets 431.
    std::size_t max_header_bytes = 16 * 1024;
    /// Largest request body; larger gets 413.
    std::uint64_t max_body_bytes = 32 * 1024 * 1024;
    /// Time allowed to receive a whole header block, counted from its first byte (and, on a new
    /// connection, from the accept).
    std::chrono::milliseconds header_timeout{10'000};
    /// Time allowed to receive a request body.
    std::chrono::milliseconds body_timeout{60'000};
    /// How long a kept-alive connection may sit between requests.
    std::chrono::milliseconds idle_timeout{75'000};
    /// Time allowed to send one response.
    std::chrono::milliseconds write_timeout{60'000};
    /// On stop, how long in-flight requests may take to finish before connections are closed.
    std::chrono::milliseconds shutdown_grace{10'000};
    /// Concurrent connections; one more is answered 503 and closed.
    std::size_t max_connections = 10'000;
    /// How usage records are made durable before a response's last bytes: "full" fsyncs every
    /// group-committed batch (a record survives a power cut); "normal" writes the batch to the
    /// write-ahead log without waiting for the disk (a record survives a crash or kill -9 of the
    /// process, not of the machine), which saves the fsync's latency on every request.
    std::string usage_sync = "full";
    /// Upstream deadlines: connecting (TLS included), the first byte of the answer, the gap
    /// between two pieces of a streamed answer, and the whole call.
    std::chrono::milliseconds upstream_connect_timeout{10'000};
    std::chrono::milliseconds upstream_first_byte_timeout{300'000};
    std::chrono::milliseconds upstream_gap_timeout{120'000};
    std::chrono::milliseconds upstream_timeout{900'000};
    /// Where access-log lines go: "-" for standard error, "" for nowhere, else a file appended to.
    std::string access_log = "-";

    /// Throws config_error naming the first setting that is out of range.
    void validate() const;
};

/// The embedded HTTP/1.1 server. Starts listening in its constructor and serves on its own
/// threads until stop() or destruction.
class server {
public:
    /// Binds, listens and starts the I/O threads. Throws config_error for a bad setting and
    /// bind_error when the address cannot be bound. Without the services (only a store) the
    /// admin API is off.
    server(server_config config, server_services services);
    ~server();
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    server(server&&) = delete;
    server& operator=(server&&) = delete;

    /// The port actually bound (useful when the config asked for port 0).
    [[nodiscard]] std::uint16_t port() const noexcept;
    /// The host the listener is bound to, as configured.
    [[nodiscard]] const std::string& host() const noexcept;
    /// True until stop() has completed.
    [[nodiscard]] bool running() const noexcept;
    /// Connections open right now.
    [[nodiscard]] std::size_t connections() const noexcept;

    /// Graceful shutdown: stops accepting, lets in-flight requests finish within the configured
    /// grace period, closes every connection and joins the I/O threads. Idempotent; blocks.
    void stop();

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace aignehub
