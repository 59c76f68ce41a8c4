// The signer against requests botocore signed (sigv4_vectors.inc), and the canonical pieces.
#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include "vectors.h"

namespace tideline::auth {
namespace {

using testing::BotocoreVector;
using testing::kBotocoreVectors;
using testing::kVectorEpoch;
using testing::kVectorKeyId;
using testing::kVectorSecret;

std::vector<Header> ToHeaders(
    const std::vector<std::pair<std::string_view, std::string_view>>& in) {
  std::vector<Header> out;
  for (const auto& [k, v] : in)
    out.push_back({k, v});
  return out;
}

std::string_view SentHeader(const BotocoreVector& v, std::string_view name) {
  for (const auto& [k, value] : v.sent_headers) {
    if (k == name) return value;
  }
  return {};
}

Credentials VectorCredentials(const BotocoreVector& v) {
  return {std::string(kVectorKeyId), std::string(kVectorSecret), std::string(v.session_token)};
}

TEST(SigV4Signer, HeaderFormMatchesBotocore) {
  int checked = 0;
  for (const BotocoreVector& v : kBotocoreVectors) {
    if (v.presign_expires != 0) continue;
    SCOPED_TRACE(v.name);
    SignRequest req;
    req.method = v.method;
    req.target = v.target;
    req.headers = ToHeaders(v.unsigned_headers);
    req.body = v.body;
    req.region = v.region;
    req.service = "kinesis";
    req.epoch_seconds = kVectorEpoch;
    const auto added = SignHeaders(req, VectorCredentials(v));
    ASSERT_FALSE(added.empty());
    EXPECT_EQ(added.back().first, "Authorization");
    EXPECT_EQ(added.back().second, SentHeader(v, "Authorization"));
    EXPECT_EQ(added.front().second, SentHeader(v, "X-Amz-Date"));
    ++checked;
  }
  EXPECT_GE(checked, 5);
}

TEST(SigV4Signer, PresignedFormMatchesBotocore) {
  int checked = 0;
  for (const BotocoreVector& v : kBotocoreVectors) {
    if (v.presign_expires == 0) continue;
    SCOPED_TRACE(v.name);
    const std::string_view target = v.target;
    // The target as it was before signing: botocore appends the X-Amz-* parameters.
    const size_t auth = target.find("X-Amz-Algorithm=");
    ASSERT_NE(auth, std::string_view::npos);
    SignRequest req;
    req.method = v.method;
    req.target = target.substr(0, auth - 1);
    req.headers = ToHeaders(v.unsigned_headers);
    req.body = v.body;
    req.region = v.region;
    req.service = "kinesis";
    req.epoch_seconds = kVectorEpoch;
    EXPECT_EQ(PresignTarget(req, VectorCredentials(v), v.presign_expires), v.target);
    ++checked;
  }
  EXPECT_GE(checked, 3);
}

TEST(SigV4Signer, SigningKeyMatchesAwsDocumentationExample) {
  // docs.aws.amazon.com "Examples of how to derive a signing key for Signature Version 4".
  const Digest key =
      DeriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
  EXPECT_EQ(Hex(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4Canonical, UriRemovesDotAndEmptySegmentsAndEncodesAgain) {
  EXPECT_EQ(CanonicalUri(""), "/");
  EXPECT_EQ(CanonicalUri("/"), "/");
  EXPECT_EQ(CanonicalUri("/a/./b/../c//d/"), "/a/c/d/");
  EXPECT_EQ(CanonicalUri("/a%20b"), "/a%2520b");
  EXPECT_EQ(CanonicalUri("/../.."), "/");
  EXPECT_EQ(CanonicalUri("."), "/");  // found by sigv4_fuzzer
  EXPECT_EQ(CanonicalUri(".."), "/");
  EXPECT_EQ(CanonicalUri("/~x-y_z.w"), "/~x-y_z.w");
}

TEST(SigV4Canonical, QueryIsDecodedReencodedAndSorted) {
  EXPECT_EQ(CanonicalQuery("b=2&a=1&a=0"), "a=0&a=1&b=2");
  EXPECT_EQ(CanonicalQuery("x=%7e&y=a b&z"), "x=~&y=a%20b&z=");
  EXPECT_EQ(CanonicalQuery("k=%2f&X-Amz-Signature=abc", "X-Amz-Signature"), "k=%2F");
  EXPECT_EQ(CanonicalQuery("&&a=1&"), "a=1");
}

TEST(SigV4Canonical, HeadersAreTrimmedCollapsedAndJoined) {
  const std::vector<Header> headers = {
      {"X-A", "  one   two "}, {"Host", "h"}, {"x-a", "three"}, {"X-B", ""}};
  EXPECT_EQ(CanonicalHeaders(headers, "host;x-a;x-b;x-missing"),
            "host:h\nx-a:one two,three\nx-b:\nx-missing:\n");
}

TEST(SigV4Dates, AmzAndHttpDatesRoundTrip) {
  EXPECT_EQ(AmzDate(kVectorEpoch), "20251203T081356Z");
  int64_t t = 0;
  ASSERT_TRUE(ParseAmzDate("20251203T081356Z", &t));
  EXPECT_EQ(t, kVectorEpoch);
  ASSERT_TRUE(ParseHttpDate("Wed, 03 Dec 2025 08:13:56 GMT", &t));
  EXPECT_EQ(t, kVectorEpoch);
  for (std::string_view bad : {"20251203T081356", "20251332T081356Z", "2025120xT081356Z",
                               "20250230T000000Z", "20251203T246000Z", ""}) {
    EXPECT_FALSE(ParseAmzDate(bad, &t)) << bad;
  }
  EXPECT_FALSE(ParseHttpDate("Wed, 03 Dex 2025 08:13:56 GMT", &t));
  EXPECT_FALSE(ParseHttpDate("Wed, 03 Dec 2025 08:13:56 UTC", &t));
}

TEST(SigV4Uri, EncodeAndDecode) {
  EXPECT_EQ(UriEncode("a b/c~", false), "a%20b%2Fc~");
  EXPECT_EQ(UriEncode("a b/c~", true), "a%20b/c~");
  EXPECT_EQ(UriDecode("%41%2f%zz%4"), "A/%zz%4");
}

}  // namespace
}  // namespace tideline::auth
