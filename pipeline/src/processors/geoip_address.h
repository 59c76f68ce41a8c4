// IP address handling for the geoip processor: parsing text into a sockaddr that libmaxminddb
// looks up, and telling apart addresses that no GeoIP database can locate.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <string_view>

namespace tideline::pipeline::geoip {

// An IPv4 or IPv6 address, ready for MMDB_lookup_sockaddr.
union IpAddress {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

// Parses a bare textual address ("81.2.69.160", "2a02:ec0::1"); no port, brackets or zone
// ("%eth0"). An IPv4-mapped IPv6 address (::ffff:81.2.69.160, as dual-stack servers log IPv4
// clients) becomes the IPv4 address. Returns false when `text` is not an address.
// Allocation-free: the text is copied to a stack buffer for inet_pton.
inline bool ParseIpAddress(std::string_view text, IpAddress* out) {
  char buffer[INET6_ADDRSTRLEN];  // the longest form, with its NUL
  if (text.empty() || text.size() >= sizeof(buffer)) return false;
  // inet_pton would stop at a NUL and accept "1.2.3.4\0junk".
  if (std::memchr(text.data(), '\0', text.size()) != nullptr) return false;
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  std::memset(out, 0, sizeof(*out));
  if (text.find(':') == std::string_view::npos) {
    out->v4.sin_family = AF_INET;
    return inet_pton(AF_INET, buffer, &out->v4.sin_addr) == 1;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, buffer, &v6) != 1) return false;
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(v6.s6_addr, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    out->v4.sin_family = AF_INET;
    std::memcpy(&out->v4.sin_addr, v6.s6_addr + 12, 4);
    return true;
  }
  out->v6.sin6_family = AF_INET6;
  out->v6.sin6_addr = v6;
  return true;
}

namespace internal {

struct Range {
  uint8_t bytes[16];  // the network, big-endian; IPv4 ranges use the first 4
  int length;         // prefix length in bits
};

inline bool InRange(const uint8_t* address, const Range& range) {
  const int whole = range.length / 8;
  if (std::memcmp(address, range.bytes, whole) != 0) return false;
  const int rest = range.length % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xFF << (8 - rest));
  return (address[whole] & mask) == (range.bytes[whole] & mask);
}

// IANA's special-purpose registries (RFC 6890 and successors): what is not globally reachable
// plus documentation, benchmarking and multicast, none of which has a location.
inline constexpr Range kIpv4NonPublic[] = {
    {{0}, 8},              // "this network" (RFC 791)
    {{10}, 8},             // private (RFC 1918)
    {{100, 64}, 10},       // shared address space, carrier-grade NAT (RFC 6598)
    {{127}, 8},            // loopback
    {{169, 254}, 16},      // link-local (RFC 3927)
    {{172, 16}, 12},       // private (RFC 1918)
    {{192, 0, 0}, 24},     // IETF protocol assignments (RFC 6890)
    {{192, 0, 2}, 24},     // documentation TEST-NET-1 (RFC 5737)
    {{192, 168}, 16},      // private (RFC 1918)
    {{198, 18}, 15},       // benchmarking (RFC 2544)
    {{198, 51, 100}, 24},  // documentation TEST-NET-2
    {{203, 0, 113}, 24},   // documentation TEST-NET-3
    {{224}, 4},            // multicast
    {{240}, 4},            // reserved (RFC 1112), including broadcast 255.255.255.255
};

inline constexpr Range kIpv6NonPublic[] = {
    {{0}, 96},                             // ::/96: unspecified, loopback, IPv4-compatible
    {{0x00, 0x64, 0xff, 0x9b, 0, 1}, 48},  // local-use IPv4/IPv6 translation (RFC 8215)
    {{0x01, 0x00}, 64},                    // discard-only (RFC 6666)
    {{0x20, 0x01, 0x00, 0x02, 0, 0}, 48},  // benchmarking (RFC 5180)
    {{0x20, 0x01, 0x0d, 0xb8}, 32},        // documentation (RFC 3849)
    {{0x3f, 0xff}, 20},                    // documentation (RFC 9637)
    {{0xfc}, 7},                           // unique local (RFC 4193)
    {{0xfe, 0x80}, 10},                    // link-local
    {{0xfe, 0xc0}, 10},                    // site-local, deprecated (RFC 3879)
    {{0xff}, 8},                           // multicast
};

}  // namespace internal

// Whether `address` is private, loopback, link-local, shared (CGNAT), documentation,
// benchmarking, multicast or otherwise reserved: an address no GeoIP database locates, so the
// processor does not look it up.
inline bool IsNonPublicAddress(const IpAddress& address) {
  if (address.sa.sa_family == AF_INET) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&address.v4.sin_addr.s_addr);
    for (const internal::Range& range : internal::kIpv4NonPublic) {
      if (internal::InRange(bytes, range)) return true;
    }
    return false;
  }
  for (const internal::Range& range : internal::kIpv6NonPublic) {
    if (internal::InRange(address.v6.sin6_addr.s6_addr, range)) return true;
  }
  return false;
}

}  // namespace tideline::pipeline::geoip
