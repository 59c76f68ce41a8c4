#include "validation.h"

#include <fmt/format.h>

#include "errors.h"

namespace tideline::server {

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
