// What a Kinesis call acts on, for authorization: the top-level string members of a request
// body that name a stream or a consumer (StreamName, StreamARN, ShardIterator, ConsumerARN), found
// without parsing the whole body into a document, so that a 5 MB PutRecords costs one scan and no
// allocation.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace tideline::server {

struct StreamMembers {
  std::optional<std::string> stream_name;
  std::optional<std::string> stream_arn;
  std::optional<std::string> shard_iterator;
  std::optional<std::string> consumer_arn;
};

// The first occurrence of each member at the top level of the JSON object `body`, as the
// handlers read them (RapidJSON's FindMember takes the first). A body that is not a JSON object
// yields no members (the handler refuses it). Keys or values with escapes take a full parse,
// so an escaped key cannot hide a member from this scan that the handler would see.
StreamMembers FindStreamMembers(std::string_view body);

}  // namespace tideline::server
