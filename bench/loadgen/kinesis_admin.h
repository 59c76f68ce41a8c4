// Control-plane calls the load generators need: create a stream, wait for it, list shards,
// register fan-out consumers.
// These run before and after measuring, so they parse responses fully with RapidJSON.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "http_connection.h"

namespace tideline::loadgen {

// "HTTP 400 ResourceNotFoundException: <message>" for a Kinesis error response.
[[nodiscard]] std::string DescribeError(const HttpResponse& response);

class KinesisAdmin {
 public:
  explicit KinesisAdmin(Endpoint endpoint) : endpoint_(endpoint), connection_(endpoint) {}

  // Creates the stream with `shards` shards. An existing stream of that name is accepted
  // (ResourceInUseException) and left as it is. Returns false with `error` on anything else.
  [[nodiscard]] bool CreateStream(const std::string& name, int shards, std::string& error);

  // Polls DescribeStreamSummary until the stream is ACTIVE or `timeout` passes.
  [[nodiscard]] bool WaitActive(const std::string& name, std::chrono::milliseconds timeout,
                                std::string& error);

  // Every shard id of the stream (ListShards, following NextToken).
  [[nodiscard]] bool ListShardIds(const std::string& name, std::vector<std::string>& shard_ids,
                                  std::string& error);

  // A TRIM_HORIZON iterator for one shard.
  [[nodiscard]] bool TrimHorizonIterator(const std::string& name, const std::string& shard_id,
                                         std::string& iterator, std::string& error);

  // The stream's ARN (DescribeStreamSummary).
  [[nodiscard]] bool StreamArn(const std::string& name, std::string& arn, std::string& error);

  // Registers an enhanced fan-out consumer and returns its ARN; a consumer of that name that
  // is already registered is kept and its ARN returned.
  [[nodiscard]] bool RegisterConsumer(const std::string& stream_arn, const std::string& name,
                                      std::string& consumer_arn, std::string& error);

  // Polls DescribeStreamConsumer until the consumer is ACTIVE or `timeout` passes.
  [[nodiscard]] bool WaitConsumerActive(const std::string& consumer_arn,
                                        std::chrono::milliseconds timeout, std::string& error);

  // One PutRecord; returns the record's sequence number.
  [[nodiscard]] bool PutRecord(const std::string& name, const std::string& partition_key,
                               std::string_view data, std::string& sequence_number,
                               std::string& error);

 private:
  // Sends one operation; true only for HTTP 200 with a JSON object body in `out`.
  [[nodiscard]] bool Call(const char* operation, const std::string& body, HttpResponse& out,
                          std::string& error);

  Endpoint endpoint_;
  HttpConnection connection_;
};

}  // namespace tideline::loadgen
