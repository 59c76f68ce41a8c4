// The authentication and authorization failures, named as AWS names them. The server maps
// each to its `__type` and HTTP status in its one error table (server/src/errors.cc).
#pragma once

#include <string>
#include <string_view>

namespace tideline::auth {

enum class AuthErrorKind {
  kMissingAuthenticationToken,  // no Authorization header and no presigned query
  kIncompleteSignature,         // a malformed Authorization header or presigned query
  kUnrecognizedClient,          // unknown access key id or wrong session token
  kInvalidSignature,            // signature mismatch, clock skew, expiry, bad scope
  kAccessDenied,                // a valid key without the permission
};

struct AuthError {
  AuthErrorKind kind;
  std::string message;
};

// "MissingAuthenticationTokenException", "IncompleteSignatureException",
// "UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException".
std::string_view AuthErrorTypeName(AuthErrorKind kind);

}  // namespace tideline::auth
