// Server-side SigV4 verification and authorization.
//
// Authenticate checks a request signed in the header form (Authorization: AWS4-HMAC-SHA256
// Credential=..., SignedHeaders=..., Signature=...) or the presigned-query form (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature,
// X-Amz-Security-Token) against the configured principals, in the order AWS reports failures:
// form, date, credential scope, access key, session token, clock skew or expiry, signature.
// The payload hash is the SHA-256 of the body (computed once; an X-Amz-Content-Sha256 header
// must equal it). Signatures are compared in constant time. Signing keys are cached per
// (access key, date, region, service), so a key costs one HMAC chain per day, not per request.
//
// Thread-safe: any number of threads may call every method at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/errors.h"
#include "auth/options.h"
#include "auth/sigv4.h"

namespace tideline::auth {

inline constexpr std::string_view kKinesisService = "kinesis";

struct AuthRequest {
  std::string_view method;  // "POST"
  std::string_view target;  // path and query as received
  const std::vector<Header>* headers = nullptr;
  std::string_view body;
};

// Who signed a request.
struct Identity {
  const Principal* principal = nullptr;  // points into the Authenticator's options
  std::string region;                    // the credential scope's region
};

class Authenticator {
 public:
  // `account_id` is the 12-digit account in ARNs and AccessDenied messages. `options` must be
  // valid (ValidateAuthOptions).
  Authenticator(AuthOptions options, std::string account_id);

  const AuthOptions& options() const { return options_; }

  // Verifies the signature of `req` at `now_seconds` (Unix time). On success fills `identity`.
  std::optional<AuthError> Authenticate(const AuthRequest& req, int64_t now_seconds,
                                        Identity* identity) const;

  // nullopt when `identity` may perform `action` on `resource_arn`, else AccessDenied with
  // AWS's message.
  std::optional<AuthError> Authorize(const Identity& identity, std::string_view action,
                                     std::string_view resource_arn) const;

  // "arn:aws:kinesis:REGION:ACCOUNT:stream/NAME" (NAME "*" for calls that name no stream).
  std::string StreamArn(std::string_view region, std::string_view name) const;
  // "arn:aws:tideline:REGION:ACCOUNT:KIND" for the admin endpoints, e.g. KIND "pipeline/web".
  std::string AdminArn(std::string_view region, std::string_view kind) const;

  // How many signing keys were derived (cache misses) so far.
  uint64_t key_derivations() const { return derivations_.load(std::memory_order_relaxed); }

 private:
  struct Parsed;
  std::optional<AuthError> Verify(const AuthRequest& req, const Parsed& parsed, int64_t now_seconds,
                                  Identity* identity) const;
  const Principal* Find(std::string_view access_key_id) const;
  Digest SigningKey(const Principal& p, std::string_view date, std::string_view region) const;

  const AuthOptions options_;
  const std::string account_id_;
  std::unordered_map<std::string, const Principal*> by_key_;  // immutable after construction
  mutable std::mutex mu_;
  mutable std::unordered_map<std::string, Digest> keys_;  // GUARDED_BY(mu_)
  mutable std::atomic<uint64_t> derivations_{0};
};

// Parsing of the two signed forms, exposed for the fuzz target and tests.
struct SignatureParts {
  std::string credential;      // "AKID/20260101/us-east-1/kinesis/aws4_request"
  std::string signed_headers;  // "host;x-amz-date"
  std::string signature;       // 64 hex digits
};
// Parses an Authorization header value; IncompleteSignature (with AWS's wording) when it lacks
// a part or is not AWS4-HMAC-SHA256.
std::optional<AuthError> ParseAuthorizationHeader(std::string_view value, SignatureParts* out);

struct PresignedParts {
  SignatureParts parts;
  std::string date;            // X-Amz-Date
  int64_t expires = 0;         // X-Amz-Expires, seconds
  std::string security_token;  // X-Amz-Security-Token, empty when absent
};
// Whether `query` (without '?') carries X-Amz-Algorithm, i.e. is meant as a presigned request.
bool IsPresignedQuery(std::string_view query);
// Parses the presigned parameters of `query`; IncompleteSignature when one is missing or bad.
std::optional<AuthError> ParsePresignedQuery(std::string_view query, PresignedParts* out);

// The region of a request's credential scope, read without verifying anything: with auth.mode
// none the server still answers in the region the client signed for (boto3 and the AWS CLI
// always sign). As Authenticate does, a presigned `query` (without '?') wins over the
// Authorization header value `authorization`. Empty when neither carries a Credential of five
// '/'-parts whose region is 1..32 characters of [a-z0-9-]. Reads the header in place: no
// allocation unless the query is presigned or the region is longer than std::string's
// small-string buffer.
std::string CredentialScopeRegion(std::string_view authorization, std::string_view query);

}  // namespace tideline::auth
