#include "common/status.h"

#include <string>

namespace tideline {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case StatusCode::kResourceInUse:
      return "ResourceInUse";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kLimitExceeded:
      return "LimitExceeded";
    case StatusCode::kExpired:
      return "Expired";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kCorruption:
      return "Corruption";
    case StatusCode::kUnavailable:
      return "Unavailable";
    case StatusCode::kThrottled:
      return "Throttled";
    case StatusCode::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

}  // namespace tideline
