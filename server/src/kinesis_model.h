// The Kinesis service model (botocore's kinesis 2013-12-02 service-2.json) as constant tables:
// every operation with its input and output shape, every shape's type and constraints, every
// structure's members. Generated into kinesis_model.inc by scripts/gen_kinesis_model.py; the
// request validator (model_validator.h) walks it, and so can anything else that needs to know
// the wire shape of an operation (which members are blobs or timestamps, for instance).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace tideline::server::model {

enum class Type : uint8_t {
  kStructure,
  kList,
  kMap,
  kString,
  kInteger,
  kLong,
  kBoolean,
  kBlob,
  kTimestamp,
};

// The model's patterns, each implemented by a hand-written check (model_patterns.h).
enum class Pattern : uint8_t {
  kNone,
  kName,            // [a-zA-Z0-9_.-]+
  kHashKey,         // 0|([1-9]\d{0,38})
  kSequenceNumber,  // 0|([1-9]\d{0,128})
  kStreamArn,       // arn:aws.*:kinesis:.*:\d{12}:stream/\S+
  kResourceArn,     // arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+
  kConsumerArn,     // ^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/NAME\/consumer\/NAME:[0-9]+
  kStreamId,        // [a-z0-9]{20}-[a-z0-9]{3}
};

struct Shape {
  std::string_view name;
  Type type;
  // Length (strings, blobs, lists, maps) or value (integers, longs) bounds, inclusive.
  bool has_min;
  int64_t min;
  bool has_max;
  int64_t max;
  Pattern pattern;
  std::string_view pattern_text;  // as the model spells it, quoted in error messages
  // Structures: their members in kMembers; strings: their enum values in kEnumValues.
  uint16_t first;
  uint16_t count;
  uint16_t element;  // lists: the member shape; maps: the value shape
  uint16_t key;      // maps: the key shape
  // True when a blob or timestamp is reachable from the shape (their wire encoding differs
  // between JSON and CBOR).
  bool has_blob_or_timestamp;
};

struct Member {
  std::string_view name;  // as on the wire: "StreamName"
  std::string_view path;  // as AWS names it in validation messages: "streamName"
  uint16_t shape;
  bool required;
};

struct Operation {
  std::string_view name;
  int input;   // shape index, -1 when the operation takes no input
  int output;  // shape index, -1 when it returns nothing
};

// Every operation of the model, sorted by name.
std::span<const Operation> Operations();
// nullptr when the model has no such operation.
const Operation* FindOperation(std::string_view name);
const Shape& ShapeAt(int index);
// Every shape, sorted by name (the indices ShapeAt takes).
std::span<const Shape> Shapes();
// A structure's members, sorted by name (the order AWS validates and reports them in).
std::span<const Member> MembersOf(const Shape& structure);
// A string shape's enum values, in the model's order; empty when it is not an enum.
std::span<const std::string_view> EnumOf(const Shape& string);

}  // namespace tideline::server::model
