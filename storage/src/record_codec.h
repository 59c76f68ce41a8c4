// Decoding of `records` values (proto::Record) without copying: the read path hands out views
// into RocksDB's buffers. Encoding goes through the generated proto::Record (see write_path.cc);
// both must agree on the wire form, which tests check.
#pragma once

#include <cstdint>
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

}  // namespace tideline::storage
