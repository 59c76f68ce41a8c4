#include "auth/errors.h"

namespace tideline::auth {

std::string_view AuthErrorTypeName(AuthErrorKind kind) {
  switch (kind) {
    case AuthErrorKind::kMissingAuthenticationToken:
      return "MissingAuthenticationTokenException";
    case AuthErrorKind::kIncompleteSignature:
      return "IncompleteSignatureException";
    case AuthErrorKind::kUnrecognizedClient:
      return "UnrecognizedClientException";
    case AuthErrorKind::kInvalidSignature:
      return "InvalidSignatureException";
    case AuthErrorKind::kAccessDenied:
      return "AccessDeniedException";
  }
  return "AccessDeniedException";
}

}  // namespace tideline::auth
