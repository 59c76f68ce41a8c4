#include "common/aws_account.h"

#include "common/regional_stream.h"

namespace tideline {

Status AwsAccount::Validate() const {
  if (!IsValidRegion(region)) {
    return Status::InvalidArgument("region: expected 1..32 characters of [a-z0-9-], got \"" +
                                   region.substr(0, 64) + "\"");
  }
  if (account_id.size() != 12 || account_id.find_first_not_of("0123456789") != std::string::npos) {
    return Status::InvalidArgument("account_id: expected 12 digits, got \"" +
                                   account_id.substr(0, 64) + "\"");
  }
  return Status::Ok();
}

}  // namespace tideline
