#include "validation.h"

#include <fmt/format.h>

#include "common/types.h"
#include "errors.h"

namespace tideline::server {

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  }
  return n;
}

namespace {

bool MatchesDecimal(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return false;
  if (s == "0") return true;
  if (s[0] < '1' || s[0] > '9') return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

bool MatchesHashKeyPattern(std::string_view s) {
  return MatchesDecimal(s, 39);
}
bool MatchesSequenceNumberPattern(std::string_view s) {
  return MatchesDecimal(s, 129);
}

void Validator::Fail(std::string_view shown_value, std::string_view path,
                     std::string_view constraint) {
  errors_.push_back(fmt::format("Value {} at '{}' failed to satisfy constraint: Member must {}",
                                shown_value, path, constraint));
}

void Validator::NotNull(bool present, std::string_view path) {
  if (!present) Fail("null", path, "not be null");
}

void Validator::LengthOf(size_t length, std::string_view shown, std::string_view path, size_t min,
                         size_t max) {
  if (length < min) {
    Fail(shown, path, fmt::format("have length greater than or equal to {}", min));
  } else if (length > max) {
    Fail(shown, path, fmt::format("have length less than or equal to {}", max));
  }
}

void Validator::Length(std::string_view value, std::string_view path, size_t min, size_t max) {
  const size_t n = Utf8Length(value);
  if (n < min || n > max) LengthOf(n, fmt::format("'{}'", value), path, min, max);
}

void Validator::Range(int64_t value, std::string_view path, int64_t min, int64_t max) {
  if (value < min) {
    Fail(fmt::format("'{}'", value), path,
         fmt::format("have value greater than or equal to {}", min));
  } else if (value > max) {
    Fail(fmt::format("'{}'", value), path, fmt::format("have value less than or equal to {}", max));
  }
}

void Validator::Pattern(bool matches, std::string_view value, std::string_view path,
                        std::string_view pattern) {
  if (!matches) {
    Fail(fmt::format("'{}'", value), path,
         fmt::format("satisfy regular expression pattern: {}", pattern));
  }
}

void Validator::StreamName(std::string_view value, std::string_view path) {
  Length(value, path, 1, 128);
  if (!value.empty() && value.size() <= 128) {
    Pattern(StreamName::IsValid(value), value, path, "[a-zA-Z0-9_.-]+");
  }
}

ApiResponse Validator::Error() const {
  std::string message = errors_.size() == 1
                            ? std::string("1 validation error detected: ")
                            : fmt::format("{} validation errors detected: ", errors_.size());
  for (size_t i = 0; i < errors_.size(); ++i) {
    if (i > 0) message += "; ";
    message += errors_[i];
  }
  return MakeError(ApiErrorType::kValidation, message);
}

}  // namespace tideline::server
