#include "errors.h"

#include <array>

#include "json_util.h"

namespace tideline::server {
namespace {

struct ErrorRow {
  ApiErrorType type;
  std::string_view name;
  unsigned http_status;
};

// The table. Kinesis sends every client error as 400 and InternalFailure as 500; only the body
// limit (enforced by the HTTP layer before any parsing) uses 413. The authentication errors are
// 400 too, as Kinesis sends them (its API reference lists AccessDeniedException as 400).
constexpr std::array kErrorTable = {
    ErrorRow{ApiErrorType::kResourceNotFound, "ResourceNotFoundException", 400},
    ErrorRow{ApiErrorType::kResourceInUse, "ResourceInUseException", 400},
    ErrorRow{ApiErrorType::kInvalidArgument, "InvalidArgumentException", 400},
    ErrorRow{ApiErrorType::kValidation, "ValidationException", 400},
    ErrorRow{ApiErrorType::kSerialization, "SerializationException", 400},
    ErrorRow{ApiErrorType::kExpiredIterator, "ExpiredIteratorException", 400},
    ErrorRow{ApiErrorType::kExpiredNextToken, "ExpiredNextTokenException", 400},
    ErrorRow{ApiErrorType::kLimitExceeded, "LimitExceededException", 400},
    ErrorRow{ApiErrorType::kProvisionedThroughputExceeded, "ProvisionedThroughputExceededException",
             400},
    ErrorRow{ApiErrorType::kUnknownOperation, "UnknownOperationException", 400},
    ErrorRow{ApiErrorType::kRequestTooLarge, "ValidationException", 413},
    ErrorRow{ApiErrorType::kInternalFailure, "InternalFailure", 500},
    ErrorRow{ApiErrorType::kServiceUnavailable, "ServiceUnavailable", 503},
    ErrorRow{ApiErrorType::kMissingAuthenticationToken, "MissingAuthenticationTokenException", 400},
    ErrorRow{ApiErrorType::kIncompleteSignature, "IncompleteSignatureException", 400},
    ErrorRow{ApiErrorType::kUnrecognizedClient, "UnrecognizedClientException", 400},
    ErrorRow{ApiErrorType::kInvalidSignature, "InvalidSignatureException", 400},
    ErrorRow{ApiErrorType::kAccessDenied, "AccessDeniedException", 400},
};

const ErrorRow& Row(ApiErrorType type) {
  for (const ErrorRow& row : kErrorTable) {
    if (row.type == type) return row;
  }
  return kErrorTable.back();  // unreachable: every enumerator has a row
}

}  // namespace

std::string_view ErrorTypeName(ApiErrorType type) {
  return Row(type).name;
}
unsigned ErrorHttpStatus(ApiErrorType type) {
  return Row(type).http_status;
}

ApiErrorType ErrorTypeForStatus(StatusCode code) {
  switch (code) {
    case StatusCode::kNotFound:
      return ApiErrorType::kResourceNotFound;
    case StatusCode::kAlreadyExists:
    case StatusCode::kResourceInUse:
      return ApiErrorType::kResourceInUse;
    case StatusCode::kInvalidArgument:
      return ApiErrorType::kInvalidArgument;
    case StatusCode::kLimitExceeded:
      return ApiErrorType::kLimitExceeded;
    case StatusCode::kExpired:
      return ApiErrorType::kExpiredIterator;
    case StatusCode::kUnavailable:
      return ApiErrorType::kServiceUnavailable;
    case StatusCode::kThrottled:
      return ApiErrorType::kProvisionedThroughputExceeded;
    case StatusCode::kOk:  // a bug in the caller; report it rather than pretend success
    case StatusCode::kIOError:
    case StatusCode::kCorruption:
    case StatusCode::kInternal:
      return ApiErrorType::kInternalFailure;
  }
  return ApiErrorType::kInternalFailure;
}

ApiResponse MakeError(ApiErrorType type, std::string_view message) {
  ApiResponse r;
  r.status = ErrorHttpStatus(type);
  r.error_type = std::string(ErrorTypeName(type));
  JsonWriter w;
  w.StartObject();
  w.Key("__type");
  w.String(r.error_type);
  // Coral names the member "Message" in a SerializationException and "message" elsewhere; SDKs
  // read either.
  w.Key(type == ApiErrorType::kSerialization ? "Message" : "message");
  w.String(message);
  w.EndObject();
  r.body = w.Take();
  return r;
}

ApiResponse MakeAuthError(const auth::AuthError& error) {
  switch (error.kind) {
    case auth::AuthErrorKind::kMissingAuthenticationToken:
      return MakeError(ApiErrorType::kMissingAuthenticationToken, error.message);
    case auth::AuthErrorKind::kIncompleteSignature:
      return MakeError(ApiErrorType::kIncompleteSignature, error.message);
    case auth::AuthErrorKind::kUnrecognizedClient:
      return MakeError(ApiErrorType::kUnrecognizedClient, error.message);
    case auth::AuthErrorKind::kInvalidSignature:
      return MakeError(ApiErrorType::kInvalidSignature, error.message);
    case auth::AuthErrorKind::kAccessDenied:
      break;
  }
  return MakeError(ApiErrorType::kAccessDenied, error.message);
}

ApiResponse MakeErrorFromStatus(const Status& status) {
  return MakeError(ErrorTypeForStatus(status.code()), status.message());
}

}  // namespace tideline::server
