// Small GeoIP databases shared by the geoip processor and MMDB writer tests.
#pragma once

#include <vector>

#include "mmdb/mmdb_writer.h"

namespace tideline::pipeline {

using mmdb::MmdbNetwork;

// A City-like database. Besides public networks it holds data for private, loopback and
// link-local networks, so a processor that looked those up would visibly add fields.
inline std::vector<MmdbNetwork> CityNetworks() {
  return {
      {"81.2.69.0/24",
       R"({"city":{"geoname_id":2643743,"names":{"de":"London","en":"London"}},)"
       R"("country":{"iso_code":"GB","names":{"de":"Vereinigtes Königreich","en":"United Kingdom"}},)"
       R"("location":{"accuracy_radius":100,"latitude":51.5142,"longitude":-0.0931}})"},
      {"89.160.20.112/28",
       R"({"city":{"names":{"en":"Linköping"}},"country":{"iso_code":"SE","names":{"en":"Sweden"}},)"
       R"("location":{"latitude":58.4167,"longitude":15.6167}})"},
      // Only a country, and half a location.
      {"216.160.83.56/29",
       R"({"country":{"iso_code":"US","names":{"en":"United States"}},"location":{"latitude":47.0}})"},
      // A database whose layout differs: "country" is a string, not a map.
      {"67.43.156.0/24", R"({"country":"BT","city":{"names":{"en":"Thimphu"}}})"},
      {"2001:218::/32", R"({"country":{"iso_code":"JP","names":{"en":"Japan"}},)"
                        R"("location":{"latitude":35.68536,"longitude":139.75309}})"},
      {"2a02:cf40::/29",
       R"({"city":{"names":{"en":"Oslo"}},"country":{"iso_code":"NO","names":{"en":"Norway"}},)"
       R"("location":{"latitude":59.9127,"longitude":10.7461}})"},
      {"10.0.0.0/8", R"({"country":{"iso_code":"ZZ","names":{"en":"Private"}}})"},
      {"127.0.0.0/8", R"({"country":{"iso_code":"ZZ","names":{"en":"Loopback"}}})"},
      {"192.168.0.0/16", R"({"country":{"iso_code":"ZZ","names":{"en":"Private"}}})"},
      {"fc00::/7", R"({"country":{"iso_code":"ZZ","names":{"en":"Unique local"}}})"},
      {"fe80::/10", R"({"country":{"iso_code":"ZZ","names":{"en":"Link-local"}}})"},
  };
}

inline std::vector<MmdbNetwork> AsnNetworks() {
  return {
      {"81.2.69.0/24",
       R"({"autonomous_system_number":20712,"autonomous_system_organization":"Andrews & Arnold Ltd"})"},
      {"2001:218::/32",
       R"({"autonomous_system_number":2914,"autonomous_system_organization":"NTT America, Inc."})"},
      // Not in the City database.
      {"1.128.0.0/11",
       R"({"autonomous_system_number":1221,"autonomous_system_organization":"Telstra"})"},
  };
}

}  // namespace tideline::pipeline
