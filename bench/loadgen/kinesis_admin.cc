#include "kinesis_admin.h"

#include <thread>

#include <rapidjson/document.h>

#include "json_scan.h"

namespace tideline::loadgen {
namespace {

// The string member `key` of a JSON object, or "" if absent or not a string.
std::string StringMember(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return "";
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || !it->value.IsString()) return "";
  return {it->value.GetString(), it->value.GetStringLength()};
}

bool ParseObject(const HttpResponse& response, rapidjson::Document& doc, std::string& error) {
  doc.Parse(response.body.data(), response.body.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    error = "response is not a JSON object: " + response.body.substr(0, 200);
    return false;
  }
  return true;
}

}  // namespace

std::string DescribeError(const HttpResponse& response) {
  rapidjson::Document doc;
  doc.Parse(response.body.data(), response.body.size());
  std::string type = StringMember(doc, "__type");
  std::string message = StringMember(doc, "message");
  if (message.empty()) message = StringMember(doc, "Message");
  std::string out = "HTTP " + std::to_string(response.status);
  if (!type.empty()) out += " " + type;
  if (!message.empty()) out += ": " + message;
  if (type.empty() && message.empty()) out += ": " + response.body.substr(0, 200);
  return out;
}

bool KinesisAdmin::Call(const char* operation, const std::string& body, HttpResponse& out,
                        std::string& error) {
  if (!connection_.RoundTrip(BuildKinesisRequest(endpoint_, operation, body), out, error)) {
    return false;
  }
  if (out.status != 200) {
    error = std::string(operation) + ": " + DescribeError(out);
    return false;
  }
  return true;
}

bool KinesisAdmin::CreateStream(const std::string& name, int shards, std::string& error) {
  std::string body = "{\"StreamName\":";
  AppendJsonString(body, name);
  body += ",\"ShardCount\":" + std::to_string(shards) + "}";
  HttpResponse response;
  if (Call("CreateStream", body, response, error)) return true;
  if (response.status == 400 && response.body.find("ResourceInUseException") != std::string::npos) {
    error.clear();
    return true;
  }
  return false;
}

bool KinesisAdmin::WaitActive(const std::string& name, std::chrono::milliseconds timeout,
                              std::string& error) {
  std::string body = "{\"StreamName\":";
  AppendJsonString(body, name);
  body += "}";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string status;
  while (true) {
    HttpResponse response;
    rapidjson::Document doc;
    if (!Call("DescribeStreamSummary", body, response, error)) return false;
    if (!ParseObject(response, doc, error)) return false;
    auto summary = doc.FindMember("StreamDescriptionSummary");
    if (summary == doc.MemberEnd()) {
      error = "DescribeStreamSummary: no StreamDescriptionSummary in response";
      return false;
    }
    status = StringMember(summary->value, "StreamStatus");
    if (status == "ACTIVE") return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
    // Polling interval while the server creates shards; not a synchronisation primitive.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  error = "stream " + name + " not ACTIVE after " + std::to_string(timeout.count()) +
          " ms (status " + status + ")";
  return false;
}

bool KinesisAdmin::ListShardIds(const std::string& name, std::vector<std::string>& shard_ids,
                                std::string& error) {
  shard_ids.clear();
  std::string next_token;
  do {
    std::string body = "{";
    if (next_token.empty()) {
      body += "\"StreamName\":";
      AppendJsonString(body, name);
    } else {
      body += "\"NextToken\":";
      AppendJsonString(body, next_token);
    }
    body += "}";
    HttpResponse response;
    rapidjson::Document doc;
    if (!Call("ListShards", body, response, error) || !ParseObject(response, doc, error)) {
      return false;
    }
    auto shards = doc.FindMember("Shards");
    if (shards == doc.MemberEnd() || !shards->value.IsArray()) {
      error = "ListShards: no Shards array in response";
      return false;
    }
    for (const auto& shard : shards->value.GetArray()) {
      std::string id = StringMember(shard, "ShardId");
      if (!id.empty()) shard_ids.push_back(std::move(id));
    }
    next_token = StringMember(doc, "NextToken");
  } while (!next_token.empty());
  if (shard_ids.empty()) {
    error = "ListShards: stream " + name + " has no shards";
    return false;
  }
  return true;
}

bool KinesisAdmin::TrimHorizonIterator(const std::string& name, const std::string& shard_id,
                                       std::string& iterator, std::string& error) {
  std::string body = "{\"StreamName\":";
  AppendJsonString(body, name);
  body += ",\"ShardId\":";
  AppendJsonString(body, shard_id);
  body += ",\"ShardIteratorType\":\"TRIM_HORIZON\"}";
  HttpResponse response;
  rapidjson::Document doc;
  if (!Call("GetShardIterator", body, response, error) || !ParseObject(response, doc, error)) {
    return false;
  }
  iterator = StringMember(doc, "ShardIterator");
  if (iterator.empty()) {
    error = "GetShardIterator: no ShardIterator for " + shard_id;
    return false;
  }
  return true;
}

bool KinesisAdmin::StreamArn(const std::string& name, std::string& arn, std::string& error) {
  std::string body = "{\"StreamName\":";
  AppendJsonString(body, name);
  body += "}";
  HttpResponse response;
  rapidjson::Document doc;
  if (!Call("DescribeStreamSummary", body, response, error) || !ParseObject(response, doc, error)) {
    return false;
  }
  auto summary = doc.FindMember("StreamDescriptionSummary");
  arn = summary == doc.MemberEnd() ? "" : StringMember(summary->value, "StreamARN");
  if (arn.empty()) {
    error = "DescribeStreamSummary: no StreamARN for " + name;
    return false;
  }
  return true;
}

bool KinesisAdmin::RegisterConsumer(const std::string& stream_arn, const std::string& name,
                                    std::string& consumer_arn, std::string& error) {
  std::string body = "{\"StreamARN\":";
  AppendJsonString(body, stream_arn);
  body += ",\"ConsumerName\":";
  AppendJsonString(body, name);
  body += "}";
  HttpResponse response;
  rapidjson::Document doc;
  const char* operation = "RegisterStreamConsumer";
  if (!Call(operation, body, response, error)) {
    if (response.status != 400 ||
        response.body.find("ResourceInUseException") == std::string::npos) {
      return false;
    }
    // Registered by an earlier run: look it up by name.
    operation = "DescribeStreamConsumer";
    if (!Call(operation, body, response, error)) return false;
  }
  if (!ParseObject(response, doc, error)) return false;
  auto consumer = doc.FindMember("Consumer");
  if (consumer == doc.MemberEnd()) consumer = doc.FindMember("ConsumerDescription");
  consumer_arn = consumer == doc.MemberEnd() ? "" : StringMember(consumer->value, "ConsumerARN");
  if (consumer_arn.empty()) {
    error = std::string(operation) + ": no ConsumerARN for " + name;
    return false;
  }
  return true;
}

bool KinesisAdmin::WaitConsumerActive(const std::string& consumer_arn,
                                      std::chrono::milliseconds timeout, std::string& error) {
  std::string body = "{\"ConsumerARN\":";
  AppendJsonString(body, consumer_arn);
  body += "}";
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string status;
  while (true) {
    HttpResponse response;
    rapidjson::Document doc;
    if (!Call("DescribeStreamConsumer", body, response, error) ||
        !ParseObject(response, doc, error)) {
      return false;
    }
    auto description = doc.FindMember("ConsumerDescription");
    status =
        description == doc.MemberEnd() ? "" : StringMember(description->value, "ConsumerStatus");
    if (status == "ACTIVE") return true;
    if (std::chrono::steady_clock::now() >= deadline) break;
    // Polling interval while the server activates the consumer; not a synchronisation primitive.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  error = "consumer " + consumer_arn + " not ACTIVE after " + std::to_string(timeout.count()) +
          " ms (status " + status + ")";
  return false;
}

bool KinesisAdmin::PutRecord(const std::string& name, const std::string& partition_key,
                             std::string_view data, std::string& sequence_number,
                             std::string& error) {
  std::string body = "{\"StreamName\":";
  AppendJsonString(body, name);
  body += ",\"PartitionKey\":";
  AppendJsonString(body, partition_key);
  body += ",\"Data\":\"" + Base64Encode(data) + "\"}";
  HttpResponse response;
  rapidjson::Document doc;
  if (!Call("PutRecord", body, response, error) || !ParseObject(response, doc, error)) {
    return false;
  }
  sequence_number = StringMember(doc, "SequenceNumber");
  if (sequence_number.empty()) {
    error = "PutRecord: no SequenceNumber in response";
    return false;
  }
  return true;
}

}  // namespace tideline::loadgen
