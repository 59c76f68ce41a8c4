// Strong types for identifiers that must never be mixed up.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

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

// An inclusive range of integers an option accepts. Declared once, next to the option, and used
// both by the options' Validate function and by the configuration file's reader.
struct IntRange {
  int64_t min;
  int64_t max;
  constexpr bool Contains(int64_t v) const { return v >= min && v <= max; }
};

// Kinesis stream name: 1..128 chars of [a-zA-Z0-9_.-]. Constructing one does not check it (names
// read back from the store are known good); names from outside go through Parse.
class StreamName : public NamedType<std::string, struct StreamNameTag> {
 public:
  static constexpr size_t kMaxLength = 128;
  using NamedType::NamedType;
  // Whether `name` is a valid stream name.
  static bool IsValid(std::string_view name);
  // The name, or InvalidArgument saying which rule it breaks.
  static Result<StreamName> Parse(std::string_view name);
};
// Kinesis shard id, "shardId-000000000000".
using ShardId = NamedType<std::string, struct ShardIdTag>;
// Position of a record within its shard: dense, starting at 1. 0 means "before the first record".
using Offset = NamedType<uint64_t, struct OffsetTag>;
// A shard's store-internal number, unique in the data directory and never reused (a stream
// deleted and created again gets new ones). Sequence numbers are made from it and an Offset
// (storage/sequence_number.h).
using ShardUid = NamedType<uint64_t, struct ShardUidTag>;
// Who a checkpoint belongs to: a pipeline's name (a Kinesis consumer application's, in KCL's
// words). 1..256 bytes without NUL; constructing one does not check, Validate does.
class CheckpointOwner : public NamedType<std::string, struct CheckpointOwnerTag> {
 public:
  CheckpointOwner() = default;
  explicit CheckpointOwner(std::string_view name) : NamedType(std::string(name)) {}
  Status Validate() const;
};
// Decimal sequence number string as Kinesis clients see it (see sequence_number.h).
using SequenceNumber = NamedType<std::string, struct SequenceNumberTag>;

}  // namespace tideline

template <typename T, typename Tag>
struct std::hash<tideline::NamedType<T, Tag>> {
  size_t operator()(const tideline::NamedType<T, Tag>& v) const noexcept {
    return std::hash<T>()(v.get());
  }
};

template <>
struct std::hash<tideline::StreamName> : std::hash<tideline::StreamName::NamedType> {};
template <>
struct std::hash<tideline::CheckpointOwner> : std::hash<tideline::CheckpointOwner::NamedType> {};
