// Writes a small, made-up GeoIP database for scripts/demo, so the demo shows the geoip
// processor without a downloaded GeoLite2 file. Every public /8 the demo's log generator uses
// (23.0.0.0/8 .. 222.0.0.0/8) maps to one of a few cities, with an ASN. The data is invented:
// point real pipelines at a GeoLite2-City / DB-IP database instead.
//
//   tideline_demo_geoip OUT.mmdb
#include <cstdio>
#include <string>
#include <vector>

#include "mmdb/mmdb_writer.h"

namespace {

struct City {
  const char* iso;
  const char* country;
  const char* city;
  double lat, lon;
};

constexpr City kCities[] = {
    {"US", "United States", "Ashburn", 39.04, -77.49},
    {"DE", "Germany", "Frankfurt am Main", 50.11, 8.68},
    {"JP", "Japan", "Tokyo", 35.69, 139.69},
    {"BR", "Brazil", "Sao Paulo", -23.55, -46.63},
    {"GB", "United Kingdom", "London", 51.51, -0.13},
    {"IN", "India", "Mumbai", 19.08, 72.88},
    {"AU", "Australia", "Sydney", -33.87, 151.21},
    {"FR", "France", "Paris", 48.86, 2.35},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT.mmdb\n", argv[0]);
    return 2;
  }
  std::vector<tideline::mmdb::MmdbNetwork> networks;
  for (int first = 23; first <= 222; ++first) {
    const City& c = kCities[first % std::size(kCities)];
    char json[512];
    std::snprintf(json, sizeof(json),
                  R"({"country":{"iso_code":"%s","names":{"en":"%s"}},)"
                  R"("city":{"names":{"en":"%s"}},)"
                  R"("location":{"latitude":%.2f,"longitude":%.2f},)"
                  R"("autonomous_system_number":%d,)"
                  R"("autonomous_system_organization":"Demo Network %d"})",
                  c.iso, c.country, c.city, c.lat, c.lon, 64500 + first, first);
    networks.push_back({std::to_string(first) + ".0.0.0/8", json});
  }
  const tideline::Status st = tideline::mmdb::WriteMmdb(argv[1], "tideline-demo-City", networks);
  if (!st.ok()) {
    std::fprintf(stderr, "tideline_demo_geoip: %s\n", st.ToString().c_str());
    return 1;
  }
  return 0;
}
