// Strong types for identifiers that must never be mixed up.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace tideline {

// A value of type T that only converts explicitly, distinguished by Tag.
template <typename T, typename Tag>
class NamedType {
 public:
  NamedType() = default;
  explicit NamedType(T v) : v_(std::move(v)) {}
  const T& get() const { return v_; }
  T& get() { return v_; }
  auto operator<=>(const NamedType&) const = default;
  bool operator==(const NamedType&) const = default;

 private:
  T v_{};
};

// Kinesis stream name: 1..128 chars of [a-zA-Z0-9_.-].
using StreamName = NamedType<std::string, struct StreamNameTag>;
// Kinesis shard id, "shardId-000000000000".
using ShardId = NamedType<std::string, struct ShardIdTag>;
// Position of a record within its shard: dense, starting at 1. 0 means "before the first record".
using Offset = NamedType<uint64_t, struct OffsetTag>;
// Decimal sequence number string as Kinesis clients see it (see sequence_number.h).
using SequenceNumber = NamedType<std::string, struct SequenceNumberTag>;

}  // namespace tideline

template <typename T, typename Tag>
struct std::hash<tideline::NamedType<T, Tag>> {
  size_t operator()(const tideline::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>()(v.get());
  }
};
