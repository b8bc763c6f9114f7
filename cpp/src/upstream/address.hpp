#pragma once

#include <boost/asio/ip/address.hpp>

#include <string_view>

namespace aignehub::upstream {

/// Where an address leads, for the server-side request forgery checks.
enum class address_class {
    global,
    loopback,
    private_network, ///< RFC 1918, CGNAT 100.64/10, IPv6 unique-local
    link_local,
    metadata, ///< cloud instance metadata endpoints
    unspecified,
    multicast,
    reserved,
};

[[nodiscard]] address_class classify(const boost::asio::ip::address& address) noexcept;

/// Whether an upstream connection may go to `address`. Providers marked local may reach
/// loopback, private, link-local and metadata addresses; no provider reaches unspecified,
/// multicast or reserved ones.
[[nodiscard]] bool may_connect(const boost::asio::ip::address& address, bool local) noexcept;

[[nodiscard]] std::string_view describe(address_class c) noexcept;

} // namespace aignehub::upstream
