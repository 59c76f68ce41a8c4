// The geoip processor: enriches a JSON record from an IP address field with a MaxMind DB.
//
// Output, under options.target_field, each member only when the database has it:
//   {"country_iso_code": "GB", "country_name": "United Kingdom", "city_name": "London",
//    "location": {"lat": 51.5142, "lon": -0.0931}, "asn": 20712, "as_org": "Andrews & Arnold"}
// Names are names.<language> with no fallback to another language. location needs both
// latitude and longitude. asn/as_org come from the ASN database when one is configured and has
// them, else from the main database. A target that already exists is replaced. An address that
// matches nothing adds nothing (no empty object).
//
// Records without a usable address stay Ok and unchanged, silently: a source field that is
// absent, not a string, or not a bare IP address ("-", a hostname, "1.2.3.4:80"). GeoIP is
// enrichment, the record is still a valid document, and failing it would send good logs to the
// backup; per-record logging is ruled out (nothing per record above debug). The same holds for
// private and reserved addresses (geoip_address.h), which are not looked up. IPv4-mapped IPv6
// addresses (::ffff:a.b.c.d) are treated as the IPv4 address.
//
// Failures: data that is not a JSON object fails with GeoIp.NotAnObject; a database whose tree
// or data does not decode for an address fails that record with GeoIp.LookupFailed (so it is
// backed up and can be redriven once the database is fixed).
//
// Thread safety: the databases are opened once and only read afterwards (libmaxminddb lookups on
// an opened MMDB_s are thread-safe), and Process keeps its state on the stack, so one processor
// serves concurrent batches.
#include <maxminddb.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pipeline/processor.h"
#include "processors/geoip_address.h"

namespace tideline::pipeline {
namespace {

// An opened .mmdb file, closed on destruction. Not movable: lookup results point back to it.
class Database {
 public:
  static Result<std::unique_ptr<Database>> Open(const std::string& path) {
    auto db = std::unique_ptr<Database>(new Database(path));
    const int status = MMDB_open(path.c_str(), MMDB_MODE_MMAP, &db->mmdb_);
    const int open_errno = errno;
    if (status != MMDB_SUCCESS) {
      // MMDB_open has released what it allocated; there is nothing to close.
      db->opened_ = false;
      std::string message = "geoip: cannot open MaxMind DB " + path + ": " + MMDB_strerror(status);
      if (status == MMDB_IO_ERROR || status == MMDB_FILE_OPEN_ERROR) {
        message += std::string(" (") + std::strerror(open_errno) + ")";
      }
      return Status::InvalidArgument(std::move(message));
    }
    return db;
  }

  ~Database() {
    if (opened_) MMDB_close(&mmdb_);
  }
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const MMDB_s& mmdb() const { return mmdb_; }
  const std::string& path() const { return path_; }

 private:
  explicit Database(std::string path) : path_(std::move(path)) {}

  std::string path_;
  MMDB_s mmdb_{};
  bool opened_ = true;
};

// What one address yielded. Strings point into the mapped database.
struct GeoFields {
  std::string_view country_iso_code;
  std::string_view country_name;
  std::string_view city_name;
  std::optional<double> lat;
  std::optional<double> lon;
  std::optional<uint64_t> asn;
  std::string_view as_org;

  bool has_location() const { return lat.has_value() && lon.has_value(); }
  bool empty() const {
    return country_iso_code.empty() && country_name.empty() && city_name.empty() &&
           !has_location() && !asn.has_value() && as_org.empty();
  }
};

using LookupPath = std::array<const char*, 4>;  // up to three keys and the terminating nullptr

// Reads the value at `path`. A missing key (which libmaxminddb reports as a path that does not
// match the data) or a path of another shape (a string where a map was expected) is no data
// rather than an error: databases differ in layout. Other errors are corrupt data.
int GetValue(MMDB_entry_s& entry, const LookupPath& path, MMDB_entry_data_s* data) {
  const int status = MMDB_aget_value(&entry, data, path.data());
  if (status == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR) {
    data->has_data = false;
    return MMDB_SUCCESS;
  }
  return status;
}

int GetString(MMDB_entry_s& entry, const LookupPath& path, std::string_view* out) {
  MMDB_entry_data_s data;
  const int status = GetValue(entry, path, &data);
  if (status == MMDB_SUCCESS && data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING) {
    *out = std::string_view(data.utf8_string, data.data_size);
  }
  return status;
}

int GetNumber(MMDB_entry_s& entry, const LookupPath& path, std::optional<double>* out) {
  MMDB_entry_data_s data;
  const int status = GetValue(entry, path, &data);
  if (status != MMDB_SUCCESS || !data.has_data) return status;
  if (data.type == MMDB_DATA_TYPE_DOUBLE) *out = data.double_value;
  if (data.type == MMDB_DATA_TYPE_FLOAT) *out = data.float_value;
  return status;
}

int GetUnsigned(MMDB_entry_s& entry, const LookupPath& path, std::optional<uint64_t>* out) {
  MMDB_entry_data_s data;
  const int status = GetValue(entry, path, &data);
  if (status != MMDB_SUCCESS || !data.has_data) return status;
  if (data.type == MMDB_DATA_TYPE_UINT16) *out = data.uint16;
  if (data.type == MMDB_DATA_TYPE_UINT32) *out = data.uint32;
  if (data.type == MMDB_DATA_TYPE_UINT64) *out = data.uint64;
  if (data.type == MMDB_DATA_TYPE_INT32 && data.int32 >= 0)
    *out = static_cast<uint64_t>(data.int32);
  return status;
}

class GeoIpProcessor final : public Processor {
 public:
  GeoIpProcessor(GeoIpOptions options, std::unique_ptr<Database> main,
                 std::unique_ptr<Database> asn)
      : options_(std::move(options)), main_(std::move(main)), asn_(std::move(asn)) {
    // The paths hold options_.language's characters; options_ never changes after this.
    country_name_ = {"country", "names", options_.language.c_str(), nullptr};
    city_name_ = {"city", "names", options_.language.c_str(), nullptr};
  }

  GeoIpProcessor(const GeoIpProcessor&) = delete;
  GeoIpProcessor& operator=(const GeoIpProcessor&) = delete;

  std::string_view type() const override { return "geoip"; }

  void Process(RecordBatch& batch) override {
    for (PipelineRecord& record : batch.records()) {
      if (record.ok()) ProcessRecord(batch, record);
    }
  }

 private:
  enum class Want { kEverything, kAsnOnly };

  void ProcessRecord(RecordBatch& batch, PipelineRecord& record) const {
    std::string parse_error;
    JsonValue* root = batch.Json(record, &parse_error);
    if (root == nullptr || !root->IsObject()) {
      RecordBatch::Fail(record, "GeoIp.NotAnObject",
                        root == nullptr ? "record data is not JSON: " + parse_error
                                        : std::string("record data is JSON but not an object"));
      return;
    }
    const JsonValue* source = FindField(*root, options_.source_field);
    if (source == nullptr || !source->IsString()) return;
    geoip::IpAddress address;
    if (!geoip::ParseIpAddress({source->GetString(), source->GetStringLength()}, &address)) {
      return;
    }
    if (geoip::IsNonPublicAddress(address)) return;

    GeoFields fields;
    Status status = Lookup(*main_, address, Want::kEverything, &fields);
    if (status.ok() && asn_ != nullptr) status = Lookup(*asn_, address, Want::kAsnOnly, &fields);
    if (!status.ok()) {
      RecordBatch::Fail(record, "GeoIp.LookupFailed", status.message());
      return;
    }
    if (fields.empty()) return;
    JsonAllocator& alloc = batch.allocator();
    // Cannot fail: root is an object.
    SetField(*root, options_.target_field, ToJson(fields, alloc), alloc);
  }

  // Adds what `db` knows of `address` to `fields`, overwriting what an earlier database said.
  // Corruption when the database's tree or data does not decode.
  Status Lookup(const Database& db, const geoip::IpAddress& address, Want want,
                GeoFields* fields) const {
    int mmdb_error = MMDB_SUCCESS;
    MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&db.mmdb(), &address.sa, &mmdb_error);
    // An IPv4-only database knows nothing of IPv6 addresses: no data, not an error.
    if (mmdb_error == MMDB_IPV6_LOOKUP_IN_IPV4_DATABASE_ERROR) return Status::Ok();
    if (mmdb_error == MMDB_SUCCESS && result.found_entry) {
      mmdb_error = Extract(result.entry, want, fields);
    }
    if (mmdb_error != MMDB_SUCCESS) {
      return Status::Corruption("geoip: lookup in " + db.path() +
                                " failed: " + MMDB_strerror(mmdb_error));
    }
    return Status::Ok();
  }

  // Reads the wanted fields of a found entry; a libmaxminddb error code.
  int Extract(MMDB_entry_s& entry, Want want, GeoFields* fields) const {
    static constexpr LookupPath kCountryIsoCode = {"country", "iso_code", nullptr};
    static constexpr LookupPath kLatitude = {"location", "latitude", nullptr};
    static constexpr LookupPath kLongitude = {"location", "longitude", nullptr};
    static constexpr LookupPath kAsn = {"autonomous_system_number", nullptr};
    static constexpr LookupPath kAsOrg = {"autonomous_system_organization", nullptr};
    if (want == Want::kEverything) {
      if (int s = GetString(entry, kCountryIsoCode, &fields->country_iso_code); s != MMDB_SUCCESS) {
        return s;
      }
      if (int s = GetString(entry, country_name_, &fields->country_name); s != MMDB_SUCCESS) {
        return s;
      }
      if (int s = GetString(entry, city_name_, &fields->city_name); s != MMDB_SUCCESS) return s;
      if (int s = GetNumber(entry, kLatitude, &fields->lat); s != MMDB_SUCCESS) return s;
      if (int s = GetNumber(entry, kLongitude, &fields->lon); s != MMDB_SUCCESS) return s;
    }
    if (int s = GetUnsigned(entry, kAsn, &fields->asn); s != MMDB_SUCCESS) return s;
    return GetString(entry, kAsOrg, &fields->as_org);
  }

  static JsonValue String(std::string_view s, JsonAllocator& alloc) {
    return JsonValue(s.data(), static_cast<rapidjson::SizeType>(s.size()), alloc);
  }

  static JsonValue ToJson(const GeoFields& fields, JsonAllocator& alloc) {
    JsonValue geo(rapidjson::kObjectType);
    if (!fields.country_iso_code.empty()) {
      geo.AddMember("country_iso_code", String(fields.country_iso_code, alloc), alloc);
    }
    if (!fields.country_name.empty()) {
      geo.AddMember("country_name", String(fields.country_name, alloc), alloc);
    }
    if (!fields.city_name.empty()) {
      geo.AddMember("city_name", String(fields.city_name, alloc), alloc);
    }
    if (fields.has_location()) {
      JsonValue location(rapidjson::kObjectType);
      location.AddMember("lat", JsonValue(*fields.lat), alloc);
      location.AddMember("lon", JsonValue(*fields.lon), alloc);
      geo.AddMember("location", location, alloc);
    }
    if (fields.asn.has_value()) geo.AddMember("asn", JsonValue(*fields.asn), alloc);
    if (!fields.as_org.empty()) geo.AddMember("as_org", String(fields.as_org, alloc), alloc);
    return geo;
  }

  const GeoIpOptions options_;
  const std::unique_ptr<Database> main_;
  const std::unique_ptr<Database> asn_;  // nullptr without an ASN database
  LookupPath country_name_;
  LookupPath city_name_;
};

}  // namespace

Result<std::unique_ptr<Processor>> MakeGeoIpProcessor(const GeoIpOptions& options) {
  if (options.database.empty()) return Status::InvalidArgument("geoip: database is required");
  if (options.source_field.empty()) {
    return Status::InvalidArgument("geoip: source_field must not be empty");
  }
  if (options.target_field.empty()) {
    return Status::InvalidArgument("geoip: target_field must not be empty");
  }
  if (options.language.empty()) return Status::InvalidArgument("geoip: language must not be empty");
  auto main = Database::Open(options.database);
  if (!main.ok()) return main.status();
  std::unique_ptr<Database> asn;
  if (!options.asn_database.empty()) {
    auto opened = Database::Open(options.asn_database);
    if (!opened.ok()) return opened.status();
    asn = std::move(opened).value();
  }
  return std::unique_ptr<Processor>(
      std::make_unique<GeoIpProcessor>(options, std::move(main).value(), std::move(asn)));
}

}  // namespace tideline::pipeline
