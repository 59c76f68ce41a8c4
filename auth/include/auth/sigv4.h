// AWS Signature Version 4 for non-S3 services: the one canonical-request, string-to-sign and
// signing-key implementation that both the client-side signer (CLI, load generator) and the
// server-side verifier (authenticator.h) use.
//
// Canonical URI: the path as it travels on the wire, dot segments and empty segments removed,
// then percent-encoded once more ('/' and unreserved characters kept), as AWS does for every
// service but S3. Canonical query: each name and value percent-decoded, then encoded with
// RFC 3986 unreserved characters only (upper-case hex), sorted by name, then value.
// Canonical headers: lower-case names, values trimmed with inner runs of spaces collapsed,
// repeated headers joined with ','.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tideline::auth {

inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kTerminator = "aws4_request";
// SHA-256 of the empty string, hex.
inline constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

using Digest = std::array<unsigned char, 32>;

// A header as it arrived or will be sent: name in any case, value as is.
struct Header {
  std::string_view name;
  std::string_view value;
};

// An access key. The secret never appears in logs: there is deliberately no operator<< or
// fmt formatter for this type.
struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty: none
};

// Header names compare without regard to ASCII case.
char AsciiLower(char c);
bool AsciiIEquals(std::string_view a, std::string_view b);

Digest Sha256(std::string_view data);
std::string Hex(const Digest& digest);
// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
Digest HmacSha256(std::string_view key, std::string_view data);

// kSecret = "AWS4" + secret; kDate = HMAC(kSecret, yyyymmdd); ... ; HMAC(kService, terminator).
Digest DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service);

// Percent-encodes everything but A-Z a-z 0-9 - _ . ~ (and '/', when `keep_slash`).
std::string UriEncode(std::string_view text, bool keep_slash);
// Decodes %XX escapes; a malformed escape is kept literally.
std::string UriDecode(std::string_view text);

// The canonical URI of a wire path (see above). An empty path is "/".
std::string CanonicalUri(std::string_view path);
// The canonical query of a wire query string (without '?'), leaving out the parameter named
// `skip` (X-Amz-Signature for presigned requests) when it is not empty.
std::string CanonicalQuery(std::string_view query, std::string_view skip = {});

// The canonical headers block ("name:value\n" for each signed header, in `signed_headers`
// order) for `signed_headers`, a ';'-separated list of lower-case names. A signed header the
// request lacks contributes "name:\n".
std::string CanonicalHeaders(const std::vector<Header>& headers, std::string_view signed_headers);

// The canonical request: method, canonical URI, canonical query, canonical headers, signed
// headers and payload hash, joined with '\n'. `target` is the path with its query ("/a?b=c").
std::string CanonicalRequest(std::string_view method, std::string_view target,
                             const std::vector<Header>& headers, std::string_view signed_headers,
                             std::string_view payload_hash, std::string_view skip_query = {});

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>".
std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request);

// Hex HMAC(signing key, string to sign).
std::string SignatureHex(const Digest& signing_key, std::string_view string_to_sign);

// "YYYYMMDDTHHMMSSZ" for `epoch_seconds` (years 0..9999).
std::string AmzDate(int64_t epoch_seconds);
// Seconds since the epoch of a "YYYYMMDDTHHMMSSZ" value; false when malformed.
bool ParseAmzDate(std::string_view text, int64_t* epoch_seconds);
// Seconds since the epoch of an RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT"); false when
// malformed.
bool ParseHttpDate(std::string_view text, int64_t* epoch_seconds);

// What a client signs.
struct SignRequest {
  std::string_view method;        // "POST"
  std::string_view target;        // path and query as sent: "/" or "/pipelines?x=1"
  std::vector<Header> headers;    // must include Host; X-Amz-Date is added by the signer
  std::string_view body;          // hashed unless `payload_hash` is set
  std::string_view payload_hash;  // optional: an X-Amz-Content-Sha256 the caller also sends
  std::string_view region;
  std::string_view service;  // "kinesis"
  int64_t epoch_seconds = 0;
};

// Header form: returns the headers to add, in order: X-Amz-Date, X-Amz-Security-Token (when the
// credentials carry one) and Authorization. Every header of `req` is signed.
std::vector<std::pair<std::string, std::string>> SignHeaders(const SignRequest& req,
                                                             const Credentials& creds);

// Presigned form: returns `req.target` with the X-Amz-* query parameters appended (signing
// `req.headers`, typically only Host). The body is hashed as for the header form.
std::string PresignTarget(const SignRequest& req, const Credentials& creds, int expires_seconds);

}  // namespace tideline::auth
