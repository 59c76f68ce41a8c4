// auth/: the Authorization header and presigned-query parsers, the unverified credential-scope
// region read (auth mode none), the canonical URI and query, and
// the whole verifier on requests built from the input; server/src/auth_resource.h: the scan of
// a body for the stream it names. Input: "<Authorization value>\n<target>\n<body>".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authenticator.h"
#include "auth/sigv4.h"
#include "auth_resource.h"
#include "common/regional_stream.h"
#include "fuzz_check.h"

namespace {

using namespace tideline;

const auth::Authenticator& Verifier() {
  static const auth::Authenticator* verifier = [] {
    auth::AuthOptions o;
    o.mode = auth::AuthMode::kSigV4;
    auth::Principal p;
    p.credentials = {"AKIDEXAMPLE", "secret", ""};
    p.allow = {"kinesis:*"};
    p.streams = {"*"};
    o.principals.push_back(p);
    return new auth::Authenticator(o, "123456789012");
  }();
  return *verifier;
}

std::string_view Next(std::string_view& in) {
  const size_t nl = in.find('\n');
  const std::string_view part = in.substr(0, nl);
  in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
  return part;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::string_view authorization = Next(in);
  const std::string_view target = Next(in);
  const std::string_view body = in;

  auth::SignatureParts parts;
  // Accepted: every part was found with a value (the parser allows blanks around '=', as in
  // "Credential =", and counts an empty value as missing).
  if (!auth::ParseAuthorizationHeader(authorization, &parts)) {
    FUZZ_CHECK(authorization.find("Credential") != std::string_view::npos);
    FUZZ_CHECK(!parts.credential.empty() && !parts.signature.empty() &&
               !parts.signed_headers.empty());
  }
  const size_t q = target.find('?');
  const std::string_view query = q == std::string_view::npos ? target : target.substr(q + 1);
  auth::PresignedParts presigned;
  if (!auth::ParsePresignedQuery(query, &presigned)) {
    FUZZ_CHECK(auth::IsPresignedQuery(query));
    FUZZ_CHECK(presigned.expires >= 1 && presigned.expires <= 7 * 24 * 3600);
  }

  // The region read without verification is empty or a valid region (never a ':' that would
  // reach another namespace), and taken from a credential the header or query holds.
  const std::string region = auth::CredentialScopeRegion(authorization, query);
  FUZZ_CHECK(region.empty() || IsValidRegion(region));
  if (!region.empty() && !auth::IsPresignedQuery(query)) {
    FUZZ_CHECK(authorization.find(region) != std::string_view::npos);
  }

  // Canonical forms are fixed points: canonicalising them again changes nothing.
  const std::string cq = auth::CanonicalQuery(query);
  FUZZ_CHECK(auth::CanonicalQuery(cq) == cq);
  const std::string cu = auth::CanonicalUri(target.substr(0, q));
  FUZZ_CHECK(!cu.empty());

  // No input forges a signature: the secret is not in it (a 2^-256 chance aside).
  const std::vector<auth::Header> headers = {
      {"Host", "h"}, {"Authorization", authorization}, {"X-Amz-Date", "20251203T081356Z"}};
  const std::string full_target =
      q == std::string_view::npos ? "/?" + std::string(target) : std::string(target);
  auth::Identity identity;
  const auth::AuthRequest req{"POST", full_target, &headers, body};
  FUZZ_CHECK(Verifier().Authenticate(req, 1764749636, &identity).has_value());
  FUZZ_CHECK(identity.principal == nullptr);

  (void)server::FindStreamMembers(body);
  return 0;
}
