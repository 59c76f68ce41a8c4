#include "auth/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "common/time_format.h"

namespace tideline::auth {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

bool Unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Trims and collapses inner runs of spaces, appending to `out`.
void AppendTrimmed(std::string_view value, std::string& out) {
  size_t b = 0;
  size_t e = value.size();
  while (b < e && (value[b] == ' ' || value[b] == '\t'))
    ++b;
  while (e > b && (value[e - 1] == ' ' || value[e - 1] == '\t'))
    --e;
  bool space = false;
  for (size_t i = b; i < e; ++i) {
    const char c = value[i];
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
}

bool Digits(std::string_view text, size_t at, size_t n, int* out) {
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
    v = v * 10 + (text[i] - '0');
  }
  *out = v;
  return true;
}

bool ValidCivil(int y, int mo, int d, int h, int mi, int s) {
  return mo >= 1 && mo <= 12 && d >= 1 &&
         d <= static_cast<int>(DaysInMonth(y, static_cast<unsigned>(mo))) && h <= 23 && mi <= 59 &&
         s <= 60;
}

int64_t EpochOf(int y, int mo, int d, int h, int mi, int s) {
  return DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
         mi * 60 + s;
}

}  // namespace

char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool AsciiIEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

Digest Sha256(std::string_view data) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data());
  return d;
}

std::string Hex(const Digest& digest) {
  std::string out(digest.size() * 2, '0');
  for (size_t i = 0; i < digest.size(); ++i) {
    out[2 * i] = kHexDigits[digest[i] >> 4];
    out[2 * i + 1] = kHexDigits[digest[i] & 0xf];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  return Hex(Sha256(data));
}

Digest HmacSha256(std::string_view key, std::string_view data) {
  Digest d{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), d.data(), &len);
  return d;
}

Digest DeriveSigningKey(std::string_view secret, std::string_view date, std::string_view region,
                        std::string_view service) {
  const std::string k_secret = "AWS4" + std::string(secret);
  const auto view = [](const Digest& d) {
    return std::string_view(reinterpret_cast<const char*>(d.data()), d.size());
  };
  const Digest k_date = HmacSha256(k_secret, date);
  const Digest k_region = HmacSha256(view(k_date), region);
  const Digest k_service = HmacSha256(view(k_region), service);
  return HmacSha256(view(k_service), kTerminator);
}

std::string UriEncode(std::string_view text, bool keep_slash) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (Unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[c >> 4]);
      out.push_back(kUpperHex[c & 0xf]);
    }
  }
  return out;
}

std::string UriDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int hi = HexValue(text[i + 1]);
      const int lo = HexValue(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

std::string CanonicalUri(std::string_view path) {
  if (path.empty()) return "/";
  // RFC 3986 5.2.4 dot-segment removal; AWS also drops empty segments ("//").
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view seg = path.substr(start, slash - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = slash + 1;
  }
  std::string normalized = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) normalized.push_back('/');
    normalized.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) normalized.push_back('/');
  // A relative path that normalizes to nothing ("." or "..") is the empty path: "/" as well.
  if (normalized.empty()) return "/";
  return UriEncode(normalized, /*keep_slash=*/true);
}

std::string CanonicalQuery(std::string_view query, std::string_view skip) {
  std::vector<std::pair<std::string, std::string>> pairs;
  size_t start = 0;
  while (start < query.size()) {
    size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view pair = query.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    const std::string_view raw_key = pair.substr(0, eq);
    const std::string_view raw_value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::string key = UriEncode(UriDecode(raw_key), false);
    if (!skip.empty() && UriDecode(raw_key) == skip) continue;
    pairs.emplace_back(std::move(key), UriEncode(UriDecode(raw_value), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out.push_back('&');
    out.append(k).push_back('=');
    out.append(v);
  }
  return out;
}

std::string CanonicalHeaders(const std::vector<Header>& headers, std::string_view signed_headers) {
  std::string out;
  size_t start = 0;
  while (start <= signed_headers.size()) {
    size_t semi = signed_headers.find(';', start);
    if (semi == std::string_view::npos) semi = signed_headers.size();
    const std::string_view name = signed_headers.substr(start, semi - start);
    start = semi + 1;
    if (name.empty()) continue;
    out.append(name).push_back(':');
    bool first = true;
    for (const Header& h : headers) {
      if (!AsciiIEquals(h.name, name)) continue;
      if (!first) out.push_back(',');
      first = false;
      AppendTrimmed(h.value, out);
    }
    out.push_back('\n');
  }
  return out;
}

std::string CanonicalRequest(std::string_view method, std::string_view target,
                             const std::vector<Header>& headers, std::string_view signed_headers,
                             std::string_view payload_hash, std::string_view skip_query) {
  const size_t q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query =
      q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  std::string out;
  out.reserve(256);
  out.append(method).push_back('\n');
  out.append(CanonicalUri(path)).push_back('\n');
  out.append(CanonicalQuery(query, skip_query)).push_back('\n');
  out.append(CanonicalHeaders(headers, signed_headers)).push_back('\n');
  out.append(signed_headers).push_back('\n');
  out.append(payload_hash);
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + scope.size() + 67);
  out.append(kAlgorithm).push_back('\n');
  out.append(amz_date).push_back('\n');
  out.append(scope).push_back('\n');
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string SignatureHex(const Digest& signing_key, std::string_view string_to_sign) {
  return Hex(HmacSha256(
      std::string_view(reinterpret_cast<const char*>(signing_key.data()), signing_key.size()),
      string_to_sign));
}

std::string AmzDate(int64_t epoch_seconds) {
  char iso[kIso8601MillisLength];
  if (!FormatIso8601Millis(epoch_seconds * 1000, iso)) return "00000000T000000Z";
  // "YYYY-MM-DDTHH:MM:SS.mmmZ" -> "YYYYMMDDTHHMMSSZ"
  std::string out;
  out.reserve(16);
  for (size_t i = 0; i < 19; ++i) {
    if (iso[i] != '-' && iso[i] != ':') out.push_back(iso[i]);
  }
  out.push_back('Z');
  return out;
}

bool ParseAmzDate(std::string_view text, int64_t* epoch_seconds) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return false;
  if (!Digits(text, 0, 4, &y) || !Digits(text, 4, 2, &mo) || !Digits(text, 6, 2, &d) ||
      !Digits(text, 9, 2, &h) || !Digits(text, 11, 2, &mi) || !Digits(text, 13, 2, &s)) {
    return false;
  }
  if (!ValidCivil(y, mo, d, h, mi, s)) return false;
  *epoch_seconds = EpochOf(y, mo, d, h, mi, s);
  return true;
}

bool ParseHttpDate(std::string_view text, int64_t* epoch_seconds) {
  // "Sun, 06 Nov 1994 08:49:37 GMT"
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  if (text.size() != 29 || text[3] != ',' || text[4] != ' ' || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return false;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (int i = 0; i < 12; ++i) {
    if (text.substr(8, 3) == kMonths[i]) mo = i + 1;
  }
  if (mo == 0 || !Digits(text, 5, 2, &d) || !Digits(text, 12, 4, &y) || !Digits(text, 17, 2, &h) ||
      !Digits(text, 20, 2, &mi) || !Digits(text, 23, 2, &s)) {
    return false;
  }
  if (!ValidCivil(y, mo, d, h, mi, s)) return false;
  *epoch_seconds = EpochOf(y, mo, d, h, mi, s);
  return true;
}

namespace {

// Lower-case, sorted, ';'-joined names of `headers`.
std::string SignedHeaderList(const std::vector<Header>& headers) {
  std::vector<std::string> names;
  for (const Header& h : headers) {
    std::string name(h.name);
    for (char& c : name)
      c = AsciiLower(c);
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out.push_back(';');
    out.append(n);
  }
  return out;
}

std::string Scope(std::string_view amz_date, const SignRequest& req) {
  return std::string(amz_date.substr(0, 8)) + "/" + std::string(req.region) + "/" +
         std::string(req.service) + "/" + std::string(kTerminator);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> SignHeaders(const SignRequest& req,
                                                             const Credentials& creds) {
  const std::string amz_date = AmzDate(req.epoch_seconds);
  std::vector<Header> headers = req.headers;
  headers.push_back({"X-Amz-Date", amz_date});
  if (!creds.session_token.empty())
    headers.push_back({"X-Amz-Security-Token", creds.session_token});
  const std::string signed_headers = SignedHeaderList(headers);
  const std::string payload =
      req.payload_hash.empty() ? Sha256Hex(req.body) : std::string(req.payload_hash);
  const std::string scope = Scope(amz_date, req);
  const std::string sts = StringToSign(
      amz_date, scope, CanonicalRequest(req.method, req.target, headers, signed_headers, payload));
  const std::string signature = SignatureHex(
      DeriveSigningKey(creds.secret_access_key, std::string_view(amz_date).substr(0, 8), req.region,
                       req.service),
      sts);
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("X-Amz-Date", amz_date);
  if (!creds.session_token.empty()) out.emplace_back("X-Amz-Security-Token", creds.session_token);
  out.emplace_back("Authorization", std::string(kAlgorithm) + " Credential=" + creds.access_key_id +
                                        "/" + scope + ", SignedHeaders=" + signed_headers +
                                        ", Signature=" + signature);
  return out;
}

std::string PresignTarget(const SignRequest& req, const Credentials& creds, int expires_seconds) {
  const std::string amz_date = AmzDate(req.epoch_seconds);
  const std::string signed_headers = SignedHeaderList(req.headers);
  const std::string scope = Scope(amz_date, req);
  std::string target(req.target);
  target.push_back(target.find('?') == std::string::npos ? '?' : '&');
  target += "X-Amz-Algorithm=" + std::string(kAlgorithm);
  target += "&X-Amz-Credential=" + UriEncode(creds.access_key_id + "/" + scope, false);
  target += "&X-Amz-Date=" + amz_date;
  target += "&X-Amz-Expires=" + std::to_string(expires_seconds);
  target += "&X-Amz-SignedHeaders=" + UriEncode(signed_headers, false);
  if (!creds.session_token.empty()) {
    target += "&X-Amz-Security-Token=" + UriEncode(creds.session_token, false);
  }
  const std::string payload =
      req.payload_hash.empty() ? Sha256Hex(req.body) : std::string(req.payload_hash);
  const std::string sts = StringToSign(
      amz_date, scope, CanonicalRequest(req.method, target, req.headers, signed_headers, payload));
  const std::string signature = SignatureHex(
      DeriveSigningKey(creds.secret_access_key, std::string_view(amz_date).substr(0, 8), req.region,
                       req.service),
      sts);
  return target + "&X-Amz-Signature=" + signature;
}

}  // namespace tideline::auth
