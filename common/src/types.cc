#include "common/types.h"

#include <fmt/format.h>

namespace tideline {
namespace {

bool IsStreamNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

}  // namespace

bool StreamName::IsValid(std::string_view name) {
  if (name.empty() || name.size() > kMaxLength) return false;
  for (const char c : name) {
    if (!IsStreamNameChar(c)) return false;
  }
  return true;
}

Result<StreamName> StreamName::Parse(std::string_view name) {
  if (name.empty() || name.size() > kMaxLength) {
    return Status::InvalidArgument(
        fmt::format("stream name must be 1..{} characters, got {}", kMaxLength, name.size()));
  }
  if (!IsValid(name)) {
    // The name is not echoed: it may hold bytes that are not text.
    return Status::InvalidArgument("stream name may only contain [a-zA-Z0-9_.-]");
  }
  return StreamName(std::string(name));
}

Status CheckpointOwner::Validate() const {
  const std::string& name = get();
  if (name.empty() || name.size() > 256) {
    return Status::InvalidArgument("application name must be 1..256 characters");
  }
  if (name.find('\0') != std::string::npos) {
    return Status::InvalidArgument("application name must not contain NUL");
  }
  return Status::Ok();
}

}  // namespace tideline
