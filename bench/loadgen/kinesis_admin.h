// Control-plane calls the load generator needs: create a stream, wait for it, list shards.
// These run before and after measuring, so they parse responses fully with RapidJSON.
#pragma once

#include <chrono>
#include <string>
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

 private:
  // Sends one operation; true only for HTTP 200 with a JSON object body in `out`.
  [[nodiscard]] bool Call(const char* operation, const std::string& body, HttpResponse& out,
                          std::string& error);

  Endpoint endpoint_;
  HttpConnection connection_;
};

}  // namespace tideline::loadgen
