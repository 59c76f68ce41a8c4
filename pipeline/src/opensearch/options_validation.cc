#include "opensearch/options_validation.h"

#include "opensearch/index_name.h"

namespace tideline::pipeline::opensearch {
namespace {

Status Range(const std::string& where, const char* key, uint32_t v, uint32_t lo, uint32_t hi) {
  if (v >= lo && v <= hi) return Status::Ok();
  return Status::InvalidArgument(where + "destination " + key + " must be in " +
                                 std::to_string(lo) + ".." + std::to_string(hi));
}

}  // namespace

Status ValidateDestinationOptions(const OpenSearchDestinationOptions& os,
                                  const std::string& where) {
  if (os.urls.empty()) return Status::InvalidArgument(where + "destination url is required");
  for (const auto& url : os.urls) {
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return Status::InvalidArgument(where + "destination url '" + url +
                                     "' must start with http:// or https://");
    }
  }
  TL_RETURN_IF_ERROR(ValidateIndexName(os.index, where + "destination index"));
  // The rotation suffix counts against OpenSearch's 255-byte limit too.
  if (os.rotation != IndexRotation::kNoRotation && os.index.size() + kMaxRotationSuffix > 255) {
    return Status::InvalidArgument(where + "destination index is too long for its rotation");
  }
  TL_RETURN_IF_ERROR(Range(where, "retry_duration_s", os.retry_duration_s, 0, 7200));
  TL_RETURN_IF_ERROR(Range(where, "concurrency", os.concurrency, 1, 16));
  TL_RETURN_IF_ERROR(Range(where, "bulk_max_mib", os.bulk_max_mib, 1, 100));
  TL_RETURN_IF_ERROR(Range(where, "keep_alive_connections", os.keep_alive_connections, 0, 64));
  TL_RETURN_IF_ERROR(Range(where, "request_timeout_s", os.request_timeout_s, 1, 600));
  if (os.username.empty() != os.password.empty()) {
    return Status::InvalidArgument(where + "destination username and password go together");
  }
  return Status::Ok();
}

Status ValidatePipelineDestination(const OpenSearchDestinationOptions& os,
                                   const BufferOptions& buffer, const std::string& where) {
  TL_RETURN_IF_ERROR(ValidateDestinationOptions(os, where));
  if (buffer.size_mib > 100) {
    return Status::InvalidArgument(where +
                                   "buffer.size_mib must be in 1..100 for an opensearch "
                                   "destination");
  }
  return Status::Ok();
}

}  // namespace tideline::pipeline::opensearch
