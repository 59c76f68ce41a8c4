#include "lambda/lambda_protocol.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <array>
#include <optional>
#include <random>
#include <unordered_map>

#include "common/base64.h"
#include "common/json_parse.h"
#include "common/json_write.h"

namespace tideline::pipeline::lambda {
namespace {

void AppendKey(std::string_view key, std::string& out) {
  out.push_back('"');
  out.append(key);
  out.append("\":");
}

constexpr std::string_view kRecordsKey = "\"records\":[";

std::string_view View(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

RecordOutcome Failed(std::string_view code, std::string message) {
  RecordOutcome o;
  o.kind = RecordOutcome::Kind::kFailed;
  o.error_code = code;
  o.error_message = std::move(message);
  return o;
}

// The outcome of the one response entry that names a record.
RecordOutcome OutcomeOf(const rapidjson::Value& entry) {
  const rapidjson::Value* result = Member(entry, "result");
  if (result == nullptr || !result->IsString()) {
    return Failed(kJsonProcessingException, "the returned record has no string \"result\"");
  }
  const std::string_view name = View(*result);
  if (name == "Dropped") {
    RecordOutcome o;
    o.kind = RecordOutcome::Kind::kDropped;
    return o;
  }
  if (name == "ProcessingFailed") {
    return Failed(kProcessingFailedStatus, std::string(kProcessingFailedMessage));
  }
  if (name != "Ok") {
    return Failed(kJsonProcessingException, "result \"" + std::string(name.substr(0, 64)) +
                                                "\" is not one of Ok, Dropped, ProcessingFailed");
  }
  const rapidjson::Value* data = Member(entry, "data");
  if (data == nullptr || !data->IsString()) {
    return Failed(kJsonProcessingException, "result Ok without a base64 string \"data\"");
  }
  std::optional<std::string> bytes = Base64Decode(View(*data));
  if (!bytes) return Failed(kJsonProcessingException, "\"data\" is not valid base64");
  RecordOutcome o;
  o.kind = RecordOutcome::Kind::kOk;
  o.data = std::move(*bytes);
  return o;
}

}  // namespace

void AppendRecordEntry(const RequestContext& context, const RequestRecord& record,
                       std::string& out) {
  const std::string arrival = std::to_string(record.arrival_ms);
  out.push_back('{');
  AppendKey("recordId", out);
  json::AppendJsonString(out, record.record_id);
  out.push_back(',');
  AppendKey("approximateArrivalTimestamp", out);
  out.append(arrival);
  out.push_back(',');
  AppendKey("data", out);
  out.push_back('"');
  Base64Append(record.data, out);
  out.append("\",");
  AppendKey("kinesisRecordMetadata", out);
  out.push_back('{');
  AppendKey("shardId", out);
  json::AppendJsonString(out, context.shard_id);
  out.push_back(',');
  AppendKey("partitionKey", out);
  json::AppendJsonString(out, record.partition_key);
  out.push_back(',');
  AppendKey("approximateArrivalTimestamp", out);
  out.append(arrival);
  out.push_back(',');
  AppendKey("sequenceNumber", out);
  json::AppendJsonString(out, record.sequence_number);
  out.push_back(',');
  AppendKey("subsequenceNumber", out);
  out.append("0}}");
}

std::string EncodeRequest(const RequestContext& context, std::string_view invocation_id,
                          std::string_view records_json) {
  std::string out;
  out.reserve(128 + context.delivery_stream_arn.size() + context.source_stream_arn.size() +
              context.region.size() + invocation_id.size() + records_json.size());
  out.push_back('{');
  AppendKey("invocationId", out);
  json::AppendJsonString(out, invocation_id);
  out.push_back(',');
  AppendKey("deliveryStreamArn", out);
  json::AppendJsonString(out, context.delivery_stream_arn);
  out.push_back(',');
  AppendKey("sourceKinesisStreamArn", out);
  json::AppendJsonString(out, context.source_stream_arn);
  out.push_back(',');
  AppendKey("region", out);
  json::AppendJsonString(out, context.region);
  out.push_back(',');
  out.append(kRecordsKey);
  out.append(records_json);
  out.append("]}");
  return out;
}

size_t RequestEnvelopeBytes(const RequestContext& context) {
  // Invocation ids are always 36 characters, so one encoding gives every envelope's size.
  static const std::string kSampleId(36, '0');
  return EncodeRequest(context, kSampleId, {}).size();
}

std::string NewInvocationId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::array<uint8_t, 16> b;
  for (size_t i = 0; i < b.size(); i += 8) {
    const uint64_t r = rng();
    for (size_t j = 0; j < 8; ++j)
      b[i + j] = static_cast<uint8_t>(r >> (8 * j));
  }
  b[6] = static_cast<uint8_t>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<uint8_t>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(36);
  for (size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) id.push_back('-');
    id.push_back(kHex[b[i] >> 4]);
    id.push_back(kHex[b[i] & 15]);
  }
  return id;
}

Result<ParsedResponse> ParseResponse(std::string_view body,
                                     std::span<const std::string> record_ids) {
  rapidjson::Document doc;
  if (auto error = json::ParseJson(doc, body, json::kPeerResponseLimits)) {
    return Status::InvalidArgument("the response is not JSON: " + *error);
  }
  if (!doc.IsObject()) return Status::InvalidArgument("the response is not a JSON object");
  const rapidjson::Value* records = Member(doc, "records");
  if (records == nullptr || !records->IsArray()) {
    return Status::InvalidArgument("the response has no \"records\" array");
  }

  std::unordered_map<std::string_view, size_t> index;
  index.reserve(record_ids.size());
  for (size_t i = 0; i < record_ids.size(); ++i)
    index.emplace(record_ids[i], i);

  ParsedResponse parsed;
  std::vector<const rapidjson::Value*> entry(record_ids.size(), nullptr);
  std::vector<bool> duplicated(record_ids.size(), false);
  for (const rapidjson::Value& e : records->GetArray()) {
    if (!e.IsObject()) continue;
    const rapidjson::Value* id = Member(e, "recordId");
    if (id == nullptr || !id->IsString()) continue;
    auto it = index.find(View(*id));
    if (it == index.end()) {
      ++parsed.unknown_ids;
    } else if (entry[it->second] != nullptr) {
      duplicated[it->second] = true;
    } else {
      entry[it->second] = &e;
    }
  }

  parsed.outcomes.reserve(record_ids.size());
  for (size_t i = 0; i < record_ids.size(); ++i) {
    if (duplicated[i]) {
      parsed.outcomes.push_back(
          Failed(kDuplicatedRecordId, std::string(kDuplicatedRecordIdMessage)));
    } else if (entry[i] == nullptr) {
      parsed.outcomes.push_back(Failed(kMissingRecordId, std::string(kMissingRecordIdMessage)));
    } else {
      parsed.outcomes.push_back(OutcomeOf(*entry[i]));
    }
  }
  return parsed;
}

}  // namespace tideline::pipeline::lambda
