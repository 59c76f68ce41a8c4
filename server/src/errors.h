// The one place that maps errors to Kinesis's wire vocabulary: `__type` + HTTP status.
#pragma once

#include <string>
#include <string_view>

#include "api_types.h"
#include "auth/errors.h"
#include "common/status.h"

namespace tideline::server {

// Every error type the API sends. Kinesis names are in ErrorTypeName().
enum class ApiErrorType {
  kResourceNotFound,
  kResourceInUse,
  kInvalidArgument,
  kValidation,
  kSerialization,
  kExpiredIterator,
  kExpiredNextToken,
  kLimitExceeded,
  kProvisionedThroughputExceeded,  // SDKs retry it with backoff
  kUnknownOperation,
  kRequestTooLarge,  // body over ServerOptions::max_body_bytes (HTTP 413)
  kInternalFailure,
  kServiceUnavailable,
  // Authentication and authorization (auth/errors.h).
  kMissingAuthenticationToken,
  kIncompleteSignature,
  kUnrecognizedClient,
  kInvalidSignature,
  kAccessDenied,
};

// The Kinesis `__type` string.
std::string_view ErrorTypeName(ApiErrorType type);
// The HTTP status Kinesis uses for the type.
unsigned ErrorHttpStatus(ApiErrorType type);
// How a storage Status surfaces (NotFound -> ResourceNotFound, IOError -> InternalFailure, ...).
ApiErrorType ErrorTypeForStatus(StatusCode code);

// {"__type": ..., "message": ...} with the type's HTTP status and error_type set.
ApiResponse MakeError(ApiErrorType type, std::string_view message);
// The answer to a refused signature or permission.
ApiResponse MakeAuthError(const auth::AuthError& error);
// MakeError(ErrorTypeForStatus(status.code()), status.message()); `status` must not be OK.
ApiResponse MakeErrorFromStatus(const Status& status);

}  // namespace tideline::server
