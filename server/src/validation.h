// Checks the handlers make beyond the service model (model_validator.h does the model's own),
// reported with AWS's ValidationException wording: "1 validation error detected: Value null at
// 'streamName' failed to satisfy constraint: Member must not be null", or "N validation errors
// detected: a; b" for several. Used for a stream named by neither StreamName nor StreamARN, and
// for a record over our size limit.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api_types.h"

namespace tideline::server {

// Collects constraint violations of one request. `path` is the member path as AWS spells it
// (lower camel case, e.g. "records.1.member.data").
class Validator {
 public:
  void NotNull(bool present, std::string_view path);
  // Length of a value shown as `shown` (blobs and lists, whose value AWS prints opaquely).
  void LengthOf(size_t length, std::string_view shown, std::string_view path, size_t min,
                size_t max);
  void Fail(std::string_view shown_value, std::string_view path, std::string_view constraint);

  bool ok() const { return errors_.empty(); }
  size_t error_count() const { return errors_.size(); }
  // The ValidationException response; only meaningful when !ok().
  ApiResponse Error() const;

 private:
  std::vector<std::string> errors_;
};

}  // namespace tideline::server
