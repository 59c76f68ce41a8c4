// Validation of a request against its operation's input shape in the service model, with
// Kinesis's answers (the JSON 1.1 protocol as AWS's Coral framework implements it):
//
// - A member of the wrong JSON type is a SerializationException naming the conversion, e.g.
//   "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an
//   String", "Start of structure or map found where not expected.", "Expected list or null";
//   a blob that is not canonical base64 is one too. The first such member wins.
// - Otherwise every failed constraint is listed in one ValidationException: "2 validation errors
//   detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null;
//   Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than
//   or equal to 1". Members are visited in name order, depth first (list entries as
//   "records.1.member.partitionKey"); a member's checks run in the order required, pattern,
//   length/value minimum, maximum, enum. At most 10 failures are reported.
// - Members the model does not know are ignored; a JSON null is an absent member. Numbers for
//   integer members are truncated (1.9 reads as 1) and clamped to the type's range, as Coral does.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <rapidjson/document.h>

#include "api_types.h"
#include "kinesis_model.h"

namespace tideline::server {

// The error response for `request` (the parsed body, any JSON value) against `op`'s input
// shape, or nullopt when it conforms. Never throws.
std::optional<ApiResponse> ValidateRequest(const model::Operation& op,
                                           const rapidjson::Value& request);
// Same by operation name; nullopt for a name the model does not have.
std::optional<ApiResponse> ValidateRequest(std::string_view operation,
                                           const rapidjson::Value& request);

// The value a number takes as a model integer (`is_long` false: Java int) or long: truncated
// toward minus infinity and clamped to the type's range. `number` must be a JSON number.
int64_t ModelInteger(const rapidjson::Value& number, bool is_long);

}  // namespace tideline::server
