// Model constraints (lengths, ranges, patterns) reported with AWS's ValidationException
// wording: "1 validation error detected: Value 'x' at 'partitionKey' failed to satisfy
// constraint: Member must have length less than or equal to 256", or "N validation errors
// detected: a; b" for several.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api_types.h"

namespace tideline::server {

// Characters of a UTF-8 string as the model counts length (code points).
size_t Utf8Length(std::string_view s);
// 0|([1-9]\d{0,38}) (ExplicitHashKey).
bool MatchesHashKeyPattern(std::string_view s);
// 0|([1-9]\d{0,128}) (SequenceNumber).
bool MatchesSequenceNumberPattern(std::string_view s);

// Collects constraint violations of one request. `path` is the member path as AWS spells it
// (lower camel case, e.g. "records.1.member.partitionKey").
class Validator {
 public:
  void NotNull(bool present, std::string_view path);
  void Length(std::string_view value, std::string_view path, size_t min, size_t max);
  // Length of a value shown as `shown` (for blobs and lists, whose value AWS prints opaquely).
  void LengthOf(size_t length, std::string_view shown, std::string_view path, size_t min,
                size_t max);
  void Range(int64_t value, std::string_view path, int64_t min, int64_t max);
  void Pattern(bool matches, std::string_view value, std::string_view path,
               std::string_view pattern);
  void StreamName(std::string_view value, std::string_view path);
  void Fail(std::string_view shown_value, std::string_view path, std::string_view constraint);

  bool ok() const { return errors_.empty(); }
  size_t error_count() const { return errors_.size(); }
  // The ValidationException response; only meaningful when !ok().
  ApiResponse Error() const;

 private:
  std::vector<std::string> errors_;
};

}  // namespace tideline::server
