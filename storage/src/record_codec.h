// The wire form of `records` values (proto::Record), encoded and decoded without copying the
// record data: the write path hands RocksDB the producer's bytes between a small prefix and
// suffix (WriteBatch SliceParts), and the read path hands out views into RocksDB's buffers. Both
// must produce and accept exactly what the generated proto::Record does, which tests check.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tideline::storage {

struct RecordFields {
  std::string_view data;
  std::string_view partition_key;
  std::string_view explicit_hash_key;
  int64_t arrival_ms = 0;
};

// Parses the protobuf wire form of tideline.proto.Record. Unknown fields are skipped (newer
// writers may add fields). False when the bytes are not a well-formed message.
bool DecodeRecordValue(std::string_view value, RecordFields* out);

// Encodes `fields` as prefix + fields.data + suffix, byte for byte what proto::Record's
// SerializeToString produces (fields in number order, empty proto3 fields omitted). The two
// buffers are overwritten and keep their capacity, so a reused pair allocates nothing.
void EncodeRecordValue(const RecordFields& fields, std::string* prefix, std::string* suffix);

}  // namespace tideline::storage
