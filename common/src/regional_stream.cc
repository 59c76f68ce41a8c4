#include "common/regional_stream.h"

#include "common/types.h"

namespace tideline {

bool IsValidRegion(std::string_view region) {
  if (region.empty() || region.size() > 32) return false;
  for (const char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

std::string StoredStreamName(std::string_view region, std::string_view default_region,
                             std::string_view name) {
  if (region.empty() || region == default_region) return std::string(name);
  std::string stored;
  stored.reserve(region.size() + 1 + name.size());
  stored.append(region);
  stored.push_back(kRegionSeparator);
  stored.append(name);
  return stored;
}

StoredStreamParts SplitStoredStreamName(std::string_view stored) {
  const size_t sep = stored.find(kRegionSeparator);
  if (sep == std::string_view::npos) return {{}, stored};
  return {stored.substr(0, sep), stored.substr(sep + 1)};
}

bool IsValidStoredStreamName(std::string_view stored) {
  const StoredStreamParts parts = SplitStoredStreamName(stored);
  if (stored.find(kRegionSeparator) != std::string_view::npos && !IsValidRegion(parts.region)) {
    return false;
  }
  return StreamName::IsValid(parts.name);
}

Status ValidateStoredStreamName(std::string_view stored) {
  const size_t sep = stored.find(kRegionSeparator);
  if (sep != std::string_view::npos && !IsValidRegion(stored.substr(0, sep))) {
    return Status::InvalidArgument(
        "the region before ':' in a stream name must be 1..32 characters of [a-z0-9-]");
  }
  return StreamName::Parse(SplitStoredStreamName(stored).name).status();
}

}  // namespace tideline
