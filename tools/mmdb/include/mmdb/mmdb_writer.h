// Writes small MaxMind DB (.mmdb, format 2.0) files, so tests, benchmarks and the demo need no
// downloaded GeoIP database. Only what lookups need: an IPv6 search tree (IPv4 networks are
// stored under ::/96, where libmaxminddb looks for IPv4 addresses, and are also reachable through
// the IPv4-mapped ::ffff:0:0/96 as in MaxMind's own databases), the data section, and the
// metadata. No pointers in the data section; identical records are stored once.
//
// Format: https://maxmind.github.io/MaxMind-DB/ (version 2.0).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tideline::mmdb {

struct MmdbNetwork {
  // "81.2.69.0/24" or "2001:db8::/32". Bits after the prefix must be zero.
  std::string cidr;
  // The data record as a JSON object, e.g.
  // {"country":{"iso_code":"GB","names":{"en":"United Kingdom"}},"location":{"latitude":51.5,
  // "longitude":-0.1}}. Strings become utf8_string, integers 0..2^32-1 uint32, larger unsigned
  // integers uint64, other numbers double, booleans boolean, objects map, arrays array; null
  // has no MaxMind DB type and is rejected.
  std::string json;
};

// Writes `networks` as a database of type `database_type` (e.g. "GeoLite2-City",
// "GeoLite2-ASN"), with ip_version 6, the smallest record size (24, 28 or 32 bits) that fits,
// build_epoch = now, and as languages the keys found in any "names" map. InvalidArgument for a
// bad CIDR, bad JSON or overlapping networks; IOError when the file cannot be written.
Status WriteMmdb(const std::string& path, std::string_view database_type,
                 const std::vector<MmdbNetwork>& networks);

}  // namespace tideline::mmdb
