#include "upstream/address.hpp"

#include <array>
#include <cstdint>

namespace aignehub::upstream {

namespace {

using v4_bytes = std::array<unsigned char, 4>;

bool in_v4(const v4_bytes& a, std::uint32_t network, unsigned prefix) {
    const std::uint32_t value = (std::uint32_t{a[0]} << 24U) | (std::uint32_t{a[1]} << 16U) |
                                (std::uint32_t{a[2]} << 8U) | std::uint32_t{a[3]};
    const std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32U - prefix);
    return (value & mask) == (network & mask);
}

constexpr std::uint32_t v4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return (a << 24U) | (b << 16U) | (c << 8U) | d;
}

address_class classify_v4(const v4_bytes& a) {
    if (in_v4(a, v4(169, 254, 169, 254), 32) || in_v4(a, v4(100, 100, 100, 200), 32) ||
        in_v4(a, v4(192, 0, 0, 192), 32)) {
        return address_class::metadata;
    }
    if (in_v4(a, v4(0, 0, 0, 0), 32)) {
        return address_class::unspecified;
    }
    if (in_v4(a, v4(127, 0, 0, 0), 8)) {
        return address_class::loopback;
    }
    if (in_v4(a, v4(10, 0, 0, 0), 8) || in_v4(a, v4(172, 16, 0, 0), 12) ||
        in_v4(a, v4(192, 168, 0, 0), 16) || in_v4(a, v4(100, 64, 0, 0), 10)) {
        return address_class::private_network;
    }
    if (in_v4(a, v4(169, 254, 0, 0), 16)) {
        return address_class::link_local;
    }
    if (in_v4(a, v4(224, 0, 0, 0), 4)) {
        return address_class::multicast;
    }
    if (in_v4(a, v4(0, 0, 0, 0), 8) || in_v4(a, v4(240, 0, 0, 0), 4) ||
        in_v4(a, v4(192, 0, 0, 0), 24) || in_v4(a, v4(198, 18, 0, 0), 15)) {
        return address_class::reserved;
    }
    return address_class::global;
}

} // namespace

address_class classify(const boost::asio::ip::address& address) noexcept {
    if (address.is_v4()) {
        return classify_v4(address.to_v4().to_bytes());
    }
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped()) {
        return classify_v4(
            boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_bytes());
    }
    const auto b = v6.to_bytes();
    if (v6.is_unspecified()) {
        return address_class::unspecified;
    }
    if (v6.is_loopback()) {
        return address_class::loopback;
    }
    // fd00:ec2::254, the AWS metadata endpoint over IPv6.
    static constexpr std::array<unsigned char, 16> aws_metadata = {
        0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (b == aws_metadata) {
        return address_class::metadata;
    }
    if ((b[0] & 0xfeU) == 0xfcU) {
        return address_class::private_network;
    }
    if (v6.is_link_local() || v6.is_site_local()) {
        return address_class::link_local;
    }
    if (v6.is_multicast()) {
        return address_class::multicast;
    }
    return address_class::global;
}

bool may_connect(const boost::asio::ip::address& address, bool local) noexcept {
    switch (classify(address)) {
    case address_class::global:
        return true;
    case address_class::loopback:
    case address_class::private_network:
    case address_class::link_local:
    case address_class::metadata:
        return local;
    case address_class::unspecified:
    case address_class::multicast:
    case address_class::reserved:
        break;
    }
    return false;
}

std::string_view describe(address_class c) noexcept {
    switch (c) {
    case address_class::global:
        return "a public address";
    case address_class::loopback:
        return "a loopback address";
    case address_class::private_network:
        return "a private-network address";
    case address_class::link_local:
        return "a link-local address";
    case address_class::metadata:
        return "a cloud metadata address";
    case address_class::unspecified:
        return "the unspecified address";
    case address_class::multicast:
        return "a multicast address";
    case address_class::reserved:
        break;
    }
    return "a reserved address";
}

} // namespace aignehub::upstream
