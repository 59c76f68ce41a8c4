// The control-plane steps both runs take before measuring.
#pragma once

#include <string>
#include <vector>

#include "fanout_options.h"

namespace tideline::fanout {

struct PreparedStream {
  std::string arn;
  // The stream's one shard.
  std::string shard_id;
  // ARNs of the consumers asked for, each ACTIVE.
  std::vector<std::string> consumer_arns;
};

// Creates options.stream with one shard (an existing stream of that name is used as it is),
// waits until it is ACTIVE, and registers the consumers `consumer_names` (or finds them
// registered) and waits until each is ACTIVE.
[[nodiscard]] bool PrepareStream(const FanoutOptions& options,
                                 const std::vector<std::string>& consumer_names,
                                 PreparedStream& out, std::string& error);

}  // namespace tideline::fanout
