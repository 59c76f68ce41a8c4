// Who may call the server and what each caller may do: the `auth` section of the
// configuration file, resolved (secrets read) and validated once at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "auth/sigv4.h"
#include "common/status.h"

namespace tideline::auth {

enum class AuthMode {
  kNone,   // every request is served, as without an auth section
  kSigV4,  // every request but /health (and /metrics when open) must be signed
};

enum class MetricsAccess {
  kOpen,       // /metrics answers anyone
  kProtected,  // /metrics needs tideline:ReadMetrics
};

// One access key and what it may do. There is no operator<< or formatter for it: the secret
// must never reach a log.
struct Principal {
  // access_key_id, the resolved secret and, when set, the session token the requests must carry.
  Credentials credentials;
  // The IAM user name in AccessDenied messages ("arn:aws:iam::ACCOUNT:user/NAME").
  // Default: the access key id
  std::string user;
  // Action patterns, matched case-insensitively as IAM does: "kinesis:PutRecord",
  // "kinesis:Describe*", "kinesis:*", "tideline:ResetPipeline", "*".
  std::vector<std::string> allow;
  // Streams the kinesis:* actions may touch: name patterns ("web-*") or stream ARN patterns
  // ("arn:aws:kinesis:*:123456789012:stream/web-*"), with `*` and `?` globs. Calls that name
  // no stream (ListStreams) act on "stream/*", which only a pattern matching "*" allows.
  // Default: none (no stream call is allowed)
  std::vector<std::string> streams;
};

struct AuthOptions {
  // Default: kNone
  AuthMode mode = AuthMode::kNone;
  // Default: kOpen
  MetricsAccess metrics = MetricsAccess::kOpen;
  // Access key ids are unique. With kSigV4 at least one is needed.
  std::vector<Principal> principals;
  // Requests signed further than this from the server's clock are refused. Default: 5 min (AWS)
  int64_t max_skew_seconds = 300;
};

// InvalidArgument naming the problem ("credentials[1].access_key_id: duplicate ..."). Checks
// unique non-empty key ids, non-empty secrets, action patterns ("service:Action" or "*") and
// that sigv4 has credentials.
Status ValidateAuthOptions(const AuthOptions& options);

// Reads a secret access key from `path`: the file's content without surrounding whitespace.
// Refused (InvalidArgument naming the file) when the file is readable or writable by group or
// others, is not a regular file, cannot be read, or is empty.
Result<std::string> ReadSecretFile(const std::string& path);

}  // namespace tideline::auth
