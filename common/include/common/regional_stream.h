// Streams live in a per-region namespace, as in AWS: a stream "logs" of us-west-2 and one of
// us-east-1 are two streams. The store knows one flat set of names, so a region's streams are
// stored under these names:
//
//   the default region (server.region)   "<name>"           as before regions existed, so data
//                                                            directories, pipelines and the CLI
//                                                            keep working unchanged
//   any other region                     "<region>:<name>"  e.g. "us-west-2:logs"
//
// Stream names are [a-zA-Z0-9_.-]{1,128} and regions [a-z0-9-]{1,32}: neither can hold ':', so
// the two forms never collide and a stored name splits back into exactly one (region, name).
// A stored name is at most 32 + 1 + 128 characters.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace tideline {

inline constexpr char kRegionSeparator = ':';

// 1..32 characters of [a-z0-9-] (server.region's rule and AWS's region names).
bool IsValidRegion(std::string_view region);

// The stored name of stream `name` in `region`; `default_region`'s streams keep their names.
// `region` empty means the default region.
std::string StoredStreamName(std::string_view region, std::string_view default_region,
                             std::string_view name);

// A stored name taken apart: `region` is empty for a stream of the default region.
struct StoredStreamParts {
  std::string_view region;
  std::string_view name;
};
// Views into `stored`. A name without ':' is all `name`.
StoredStreamParts SplitStoredStreamName(std::string_view stored);

// Whether `stored` is "<name>" or "<region>:<name>" with a valid region and stream name.
bool IsValidStoredStreamName(std::string_view stored);
// OK, or InvalidArgument saying which rule `stored` breaks (StreamName::Parse's wording for a
// plain name).
Status ValidateStoredStreamName(std::string_view stored);

}  // namespace tideline
