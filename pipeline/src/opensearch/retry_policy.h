// The retry policy of the OpenSearch destination: what a _bulk response (or its absence) means
// for each document, and how long to wait before sending the retryable ones again.
//
//   whole request                          documents
//   connection error, timeout              Retry (all)
//   200 + items                            per item: 2xx Delivered; 409 on a create Delivered
//                                          (the stable id is indexed already); 429, 5xx Retry;
//                                          other 4xx Reject (mapping errors: to the backup)
//   413 Payload Too Large                  Split (halve and send again, no backoff); alone: Reject
//   400 on the whole request               Split, to isolate the document the cluster refuses
//   429, 5xx, 401/403, 404, other          Retry (all): stable ids make a resend idempotent
//
// Retries wait with capped exponential backoff and full jitter, until the retry duration from
// the first attempt is spent; then the documents go to the backup with their last error.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tideline::pipeline::opensearch {

enum class ItemAction { kDelivered, kRetry, kReject };
ItemAction ClassifyItem(int status, bool was_create);

enum class RequestAction { kParseItems, kRetryAll, kSplit };
// `status` 0 means no HTTP response (connection error or timeout).
RequestAction ClassifyRequest(int status);

// One item of a _bulk response.
struct BulkItem {
  int status = 0;
  // For failed items: OpenSearch's error object, compact ({"type":...,"reason":...}).
  std::string error;
};

// Parses a _bulk response body ({"took", "errors", "items": [{"<action>": {"status", ...}}]}).
// Fails unless it has exactly `expected_items` items: anything else is not an answer to the
// request that was sent.
Result<std::vector<BulkItem>> ParseBulkResponse(std::string_view body, size_t expected_items);

// Full-jitter exponential backoff: attempt n waits uniform(0, min(cap, base * 2^n)).
class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed);
  std::chrono::milliseconds Next(int attempt);

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  std::mt19937_64 rng_;
};

}  // namespace tideline::pipeline::opensearch
