#include "auth/authenticator.h"

#include <openssl/crypto.h>

#include <charconv>

#include "auth/policy.h"

namespace tideline::auth {
namespace {

// AWS's wording for a signature that does not match.
constexpr std::string_view kMismatch =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
constexpr std::string_view kInvalidToken = "The security token included in the request is invalid.";
// Presigned URLs live at most 7 days, as AWS allows.
constexpr int64_t kMaxExpires = 7 * 24 * 3600;
// Cached signing keys; a day's worth of (key, region) pairs in any sane deployment.
constexpr size_t kMaxCachedKeys = 4096;

AuthError Error(AuthErrorKind kind, std::string message) {
  return AuthError{kind, std::move(message)};
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The first value of header `name`, or nullopt.
std::optional<std::string_view> FindHeader(const std::vector<Header>& headers,
                                           std::string_view name) {
  for (const Header& h : headers) {
    if (AsciiIEquals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool ValidRegion(std::string_view r) {
  if (r.empty() || r.size() > 32) return false;
  for (const char c : r) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// The value of query parameter `name` (decoded), or nullopt.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    const size_t eq = pair.find('=');
    if (UriDecode(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? std::string() : UriDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

// "Credential should be scoped ..." checks: 5 parts, date, region, service, terminator.
struct Scope {
  std::string_view access_key_id, date, region, service, terminator;
};

std::optional<AuthError> ParseScope(std::string_view credential, Scope* out) {
  std::string_view parts[5];
  size_t n = 0;
  size_t start = 0;
  for (;;) {
    const size_t slash = credential.find('/', start);
    if (n < 5) parts[n] = credential.substr(start, slash - start);
    ++n;
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (n != 5) {
    return Error(AuthErrorKind::kIncompleteSignature,
                 "Credential must have exactly 5 slash-delimited elements, e.g. "
                 "keyid/date/region/service/term, got '" +
                     std::string(credential.substr(0, 256)) + "'");
  }
  *out = Scope{parts[0], parts[1], parts[2], parts[3], parts[4]};
  return std::nullopt;
}

}  // namespace

std::optional<AuthError> ParseAuthorizationHeader(std::string_view value, SignatureParts* out) {
  const std::string_view trimmed = Trim(value);
  const size_t space = trimmed.find(' ');
  const std::string_view algorithm = trimmed.substr(0, space);
  if (algorithm != kAlgorithm) {
    if (algorithm.starts_with("AWS4-")) {
      return Error(AuthErrorKind::kIncompleteSignature,
                   "Unsupported AWS 'algorithm': '" + std::string(algorithm.substr(0, 64)) + "'");
    }
  }
  bool has_credential = false, has_signature = false, has_signed_headers = false;
  if (algorithm == kAlgorithm && space != std::string_view::npos) {
    std::string_view rest = trimmed.substr(space + 1);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view item = Trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      const size_t eq = item.find('=');
      if (eq == std::string_view::npos) continue;
      const std::string_view k = Trim(item.substr(0, eq));
      const std::string_view v = Trim(item.substr(eq + 1));
      // An empty value counts as missing ("Credential=, ..."), as AWS answers it.
      if (v.empty()) continue;
      if (k == "Credential" && !has_credential) {
        out->credential = std::string(v);
        has_credential = true;
      } else if (k == "SignedHeaders" && !has_signed_headers) {
        out->signed_headers = std::string(v);
        has_signed_headers = true;
      } else if (k == "Signature" && !has_signature) {
        out->signature = std::string(v);
        has_signature = true;
      }
    }
  }
  if (has_credential && has_signature && has_signed_headers) return std::nullopt;
  std::string message;
  if (!has_credential) message += "Authorization header requires 'Credential' parameter. ";
  if (!has_signature) message += "Authorization header requires 'Signature' parameter. ";
  if (!has_signed_headers) message += "Authorization header requires 'SignedHeaders' parameter. ";
  message += "Authorization=" + std::string(value.substr(0, 512));
  return Error(AuthErrorKind::kIncompleteSignature, std::move(message));
}

bool IsPresignedQuery(std::string_view query) {
  return QueryParam(query, "X-Amz-Algorithm").has_value();
}

namespace {

// The region part of a credential scope "AKID/DATE/REGION/SERVICE/TERMINATOR", or empty.
std::string_view ScopeRegionOf(std::string_view credential) {
  Scope scope;
  if (ParseScope(credential, &scope) || !ValidRegion(scope.region)) return {};
  return scope.region;
}

}  // namespace

std::string CredentialScopeRegion(std::string_view authorization, std::string_view query) {
  if (!query.empty() && IsPresignedQuery(query)) {
    const auto credential = QueryParam(query, "X-Amz-Credential");
    return credential ? std::string(ScopeRegionOf(*credential)) : std::string();
  }
  const std::string_view trimmed = Trim(authorization);
  if (!trimmed.starts_with(kAlgorithm) || trimmed.size() == kAlgorithm.size() ||
      trimmed[kAlgorithm.size()] != ' ') {
    return {};
  }
  // The Credential item, as ParseAuthorizationHeader finds it (blanks around '=' allowed).
  std::string_view rest = trimmed.substr(kAlgorithm.size());
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos || Trim(item.substr(0, eq)) != "Credential") continue;
    return std::string(ScopeRegionOf(Trim(item.substr(eq + 1))));
  }
  return {};
}

std::optional<AuthError> ParsePresignedQuery(std::string_view query, PresignedParts* out) {
  const auto algorithm = QueryParam(query, "X-Amz-Algorithm");
  const auto credential = QueryParam(query, "X-Amz-Credential");
  const auto signature = QueryParam(query, "X-Amz-Signature");
  const auto signed_headers = QueryParam(query, "X-Amz-SignedHeaders");
  const auto date = QueryParam(query, "X-Amz-Date");
  const auto expires = QueryParam(query, "X-Amz-Expires");
  std::string missing;
  const auto need = [&missing](const std::optional<std::string>& v, std::string_view name) {
    if (!v) missing += "AWS query-string parameters must include '" + std::string(name) + "'. ";
  };
  need(algorithm, "X-Amz-Algorithm");
  need(credential, "X-Amz-Credential");
  need(signature, "X-Amz-Signature");
  need(signed_headers, "X-Amz-SignedHeaders");
  need(date, "X-Amz-Date");
  if (!missing.empty()) {
    return Error(AuthErrorKind::kIncompleteSignature,
                 missing + "Re-examine the query-string parameters.");
  }
  if (*algorithm != kAlgorithm) {
    return Error(AuthErrorKind::kIncompleteSignature,
                 "Unsupported AWS 'algorithm': '" + algorithm->substr(0, 64) + "'");
  }
  int64_t seconds = kMaxExpires;
  if (expires) {
    const char* b = expires->data();
    const char* e = b + expires->size();
    auto [end, ec] = std::from_chars(b, e, seconds);
    if (ec != std::errc() || end != e || seconds < 1 || seconds > kMaxExpires) {
      return Error(AuthErrorKind::kIncompleteSignature,
                   "X-Amz-Expires must be an integer between 1 and 604800 seconds, got '" +
                       expires->substr(0, 32) + "'");
    }
  }
  out->parts = SignatureParts{*credential, *signed_headers, *signature};
  out->date = *date;
  out->expires = seconds;
  out->security_token = QueryParam(query, "X-Amz-Security-Token").value_or("");
  return std::nullopt;
}

struct Authenticator::Parsed {
  SignatureParts parts;
  std::string amz_date;        // as signed (YYYYMMDDTHHMMSSZ)
  int64_t signed_at = 0;       // epoch seconds of amz_date
  std::string security_token;  // as the request carries it
  bool presigned = false;
  int64_t expires = 0;
};

Authenticator::Authenticator(AuthOptions options, std::string account_id)
    : options_(std::move(options)), account_id_(std::move(account_id)) {
  for (const Principal& p : options_.principals)
    by_key_.emplace(p.credentials.access_key_id, &p);
}

const Principal* Authenticator::Find(std::string_view access_key_id) const {
  const auto it = by_key_.find(std::string(access_key_id));
  return it == by_key_.end() ? nullptr : it->second;
}

Digest Authenticator::SigningKey(const Principal& p, std::string_view date,
                                 std::string_view region) const {
  std::string cache_key = p.credentials.access_key_id;
  cache_key.push_back('/');
  cache_key.append(date).push_back('/');
  cache_key.append(region);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (const auto it = keys_.find(cache_key); it != keys_.end()) return it->second;
  }
  const Digest key =
      DeriveSigningKey(p.credentials.secret_access_key, date, region, kKinesisService);
  derivations_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(mu_);
  // Keys of past days are never used again; a full cache starts over rather than grow.
  if (keys_.size() >= kMaxCachedKeys) keys_.clear();
  keys_.emplace(std::move(cache_key), key);
  return key;
}

std::optional<AuthError> Authenticator::Authenticate(const AuthRequest& req, int64_t now_seconds,
                                                     Identity* identity) const {
  const std::vector<Header>& headers = *req.headers;
  const size_t q = req.target.find('?');
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : req.target.substr(q + 1);
  Parsed parsed;
  const std::optional<std::string_view> authorization = FindHeader(headers, "Authorization");
  if (!query.empty() && IsPresignedQuery(query)) {
    PresignedParts p;
    if (auto error = ParsePresignedQuery(query, &p)) return error;
    parsed.parts = std::move(p.parts);
    parsed.amz_date = std::move(p.date);
    parsed.security_token = std::move(p.security_token);
    parsed.presigned = true;
    parsed.expires = p.expires;
    if (!ParseAmzDate(parsed.amz_date, &parsed.signed_at)) {
      return Error(AuthErrorKind::kIncompleteSignature,
                   "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    }
  } else if (authorization) {
    if (auto error = ParseAuthorizationHeader(*authorization, &parsed.parts)) return error;
    if (const auto d = FindHeader(headers, "X-Amz-Date")) {
      parsed.amz_date = std::string(Trim(*d));
      if (!ParseAmzDate(parsed.amz_date, &parsed.signed_at)) {
        return Error(AuthErrorKind::kIncompleteSignature,
                     "Date must be in ISO-8601 'basic format'. Got '" +
                         parsed.amz_date.substr(0, 64) +
                         "'. See http://en.wikipedia.org/wiki/ISO_8601");
      }
    } else if (const auto http_date = FindHeader(headers, "Date");
               http_date && ParseHttpDate(Trim(*http_date), &parsed.signed_at)) {
      parsed.amz_date = AmzDate(parsed.signed_at);
    } else {
      return Error(AuthErrorKind::kIncompleteSignature,
                   "Authorization header requires existence of either a 'X-Amz-Date' or a "
                   "'Date' header. Authorization=" +
                       std::string(authorization->substr(0, 512)));
    }
    parsed.security_token = std::string(FindHeader(headers, "X-Amz-Security-Token").value_or(""));
  } else {
    return Error(AuthErrorKind::kMissingAuthenticationToken, "Missing Authentication Token");
  }
  return Verify(req, parsed, now_seconds, identity);
}

std::optional<AuthError> Authenticator::Verify(const AuthRequest& req, const Parsed& parsed,
                                               int64_t now_seconds, Identity* identity) const {
  Scope scope;
  if (auto error = ParseScope(parsed.parts.credential, &scope)) return error;
  const std::string_view day = std::string_view(parsed.amz_date).substr(0, 8);
  if (scope.date != day) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
                 "from HTTP: '" +
                     std::string(scope.date.substr(0, 16)) + "' != '" + std::string(day) +
                     "', from '" + parsed.amz_date + "'.");
  }
  if (!ValidRegion(scope.region)) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "Credential should be scoped to a valid region, not '" +
                     std::string(scope.region.substr(0, 64)) + "'. ");
  }
  if (scope.service != kKinesisService) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "Credential should be scoped to correct service: 'kinesis'. ");
  }
  if (scope.terminator != kTerminator) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "Credential should be scoped with a valid terminator: 'aws4_request', not '" +
                     std::string(scope.terminator.substr(0, 64)) + "'. ");
  }
  const Principal* principal = Find(scope.access_key_id);
  if (principal == nullptr)
    return Error(AuthErrorKind::kUnrecognizedClient, std::string(kInvalidToken));
  if (!ConstantTimeEquals(parsed.security_token, principal->credentials.session_token)) {
    return Error(AuthErrorKind::kUnrecognizedClient, std::string(kInvalidToken));
  }
  const int64_t skew = options_.max_skew_seconds;
  const std::string skew_text = std::to_string(skew / 60) + " min.";
  if (parsed.signed_at > now_seconds + skew) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "Signature not yet current: " + parsed.amz_date + " is still later than " +
                     AmzDate(now_seconds + skew) + " (" + AmzDate(now_seconds) + " + " + skew_text +
                     ")");
  }
  if (parsed.presigned) {
    if (parsed.signed_at + parsed.expires < now_seconds) {
      return Error(AuthErrorKind::kInvalidSignature,
                   "Signature expired: " + AmzDate(parsed.signed_at + parsed.expires) +
                       " is now earlier than " + AmzDate(now_seconds) + " (" + parsed.amz_date +
                       " + " + std::to_string(parsed.expires) + " sec.)");
    }
  } else if (parsed.signed_at < now_seconds - skew) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "Signature expired: " + parsed.amz_date + " is now earlier than " +
                     AmzDate(now_seconds - skew) + " (" + AmzDate(now_seconds) + " - " + skew_text +
                     ")");
  }
  // The signed headers must include the host, as AWS requires.
  bool host_signed = false;
  for (size_t start = 0; start <= parsed.parts.signed_headers.size();) {
    size_t semi = parsed.parts.signed_headers.find(';', start);
    if (semi == std::string::npos) semi = parsed.parts.signed_headers.size();
    host_signed =
        host_signed ||
        std::string_view(parsed.parts.signed_headers).substr(start, semi - start) == "host";
    start = semi + 1;
  }
  if (!host_signed) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
  }
  const std::string body_hash = Sha256Hex(req.body);
  if (const auto claimed = FindHeader(*req.headers, "X-Amz-Content-Sha256");
      claimed && Trim(*claimed) != body_hash) {
    return Error(AuthErrorKind::kInvalidSignature,
                 "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  const std::string canonical =
      CanonicalRequest(req.method, req.target, *req.headers, parsed.parts.signed_headers, body_hash,
                       parsed.presigned ? "X-Amz-Signature" : "");
  const std::string string_to_sign = StringToSign(
      parsed.amz_date, parsed.parts.credential.substr(scope.access_key_id.size() + 1), canonical);
  const std::string expected =
      SignatureHex(SigningKey(*principal, scope.date, scope.region), string_to_sign);
  if (!ConstantTimeEquals(expected, parsed.parts.signature)) {
    return Error(AuthErrorKind::kInvalidSignature, std::string(kMismatch));
  }
  identity->principal = principal;
  identity->region = std::string(scope.region);
  return std::nullopt;
}

std::optional<AuthError> Authenticator::Authorize(const Identity& identity, std::string_view action,
                                                  std::string_view resource_arn) const {
  if (identity.principal != nullptr && AllowsAction(*identity.principal, action) &&
      AllowsResource(*identity.principal, resource_arn)) {
    return std::nullopt;
  }
  const std::string user = identity.principal == nullptr ? "anonymous"
                           : identity.principal->user.empty()
                               ? identity.principal->credentials.access_key_id
                               : identity.principal->user;
  return Error(AuthErrorKind::kAccessDenied,
               "User: arn:aws:iam::" + account_id_ + ":user/" + user +
                   " is not authorized to perform: " + std::string(action) + " on resource: " +
                   std::string(resource_arn) + " because no identity-based policy allows the " +
                   std::string(action) + " action");
}

std::string Authenticator::StreamArn(std::string_view region, std::string_view name) const {
  return "arn:aws:kinesis:" + std::string(region) + ":" + account_id_ + ":stream/" +
         std::string(name);
}

std::string Authenticator::AdminArn(std::string_view region, std::string_view kind) const {
  return "arn:aws:tideline:" + std::string(region) + ":" + account_id_ + ":" + std::string(kind);
}

}  // namespace tideline::auth
