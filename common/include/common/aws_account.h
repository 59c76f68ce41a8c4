// The AWS region and account tideline answers as: stream and Firehose ARNs, error messages and
// the context handed to Lambda transformers use it. One value for the whole process
// (server.region and server.account_id in the configuration file).
#pragma once

#include <string>

#include "common/status.h"

namespace tideline {

struct AwsAccount {
  // 1..32 characters of [a-z0-9-]. Default: us-east-1
  std::string region = "us-east-1";
  // 12 digits. Default: 123456789012, as the common emulators use.
  std::string account_id = "123456789012";

  // InvalidArgument naming the member ("region: ..." or "account_id: ...") that is malformed.
  Status Validate() const;
  bool operator==(const AwsAccount&) const = default;
};

}  // namespace tideline
