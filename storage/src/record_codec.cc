#include "record_codec.h"

namespace tideline::storage {
namespace {

bool ReadVarint(std::string_view& in, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) {
      *out = v;
      return true;
    }
  }
  return false;
}

bool ReadLengthDelimited(std::string_view& in, std::string_view* out) {
  uint64_t len = 0;
  if (!ReadVarint(in, &len) || len > in.size()) return false;
  *out = in.substr(0, len);
  in.remove_prefix(len);
  return true;
}

bool SkipField(std::string_view& in, uint32_t wire_type) {
  uint64_t ignored = 0;
  std::string_view bytes;
  switch (wire_type) {
    case 0:
      return ReadVarint(in, &ignored);
    case 1:
      if (in.size() < 8) return false;
      in.remove_prefix(8);
      return true;
    case 2:
      return ReadLengthDelimited(in, &bytes);
    case 5:
      if (in.size() < 4) return false;
      in.remove_prefix(4);
      return true;
    default:
      return false;  // groups (3, 4) are not used by proto3
  }
}

void AppendVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// Tag byte of a field: (number << 3) | wire type. Our field numbers are all below 16.
constexpr char Tag(uint32_t field, uint32_t wire_type) {
  return static_cast<char>((field << 3) | wire_type);
}

void AppendBytesField(std::string* out, uint32_t field, std::string_view bytes) {
  if (bytes.empty()) return;  // proto3 omits empty strings and bytes
  out->push_back(Tag(field, 2));
  AppendVarint(out, bytes.size());
  out->append(bytes);
}

}  // namespace

void EncodeRecordValue(const RecordFields& fields, std::string* prefix, std::string* suffix) {
  prefix->clear();
  suffix->clear();
  if (!fields.data.empty()) {
    prefix->push_back(Tag(1, 2));
    AppendVarint(prefix, fields.data.size());
  }
  AppendBytesField(suffix, 2, fields.partition_key);
  AppendBytesField(suffix, 3, fields.explicit_hash_key);
  if (fields.arrival_ms != 0) {
    suffix->push_back(Tag(4, 0));
    // int64 varints carry the two's complement bits, as protobuf does for negative values.
    AppendVarint(suffix, static_cast<uint64_t>(fields.arrival_ms));
  }
}

bool DecodeRecordValue(std::string_view value, RecordFields* out) {
  *out = RecordFields{};
  std::string_view in = value;
  while (!in.empty()) {
    uint64_t tag = 0;
    if (!ReadVarint(in, &tag)) return false;
    const auto field = static_cast<uint32_t>(tag >> 3);
    const auto wire_type = static_cast<uint32_t>(tag & 7);
    if (field == 0) return false;
    if (field >= 1 && field <= 3 && wire_type == 2) {
      std::string_view* dst = field == 1   ? &out->data
                              : field == 2 ? &out->partition_key
                                           : &out->explicit_hash_key;
      if (!ReadLengthDelimited(in, dst)) return false;
    } else if (field == 4 && wire_type == 0) {
      uint64_t v = 0;
      if (!ReadVarint(in, &v)) return false;
      out->arrival_ms = static_cast<int64_t>(v);
    } else if (!SkipField(in, wire_type)) {
      return false;
    }
  }
  return true;
}

}  // namespace tideline::storage
