// The verifier: botocore's requests are accepted, and every failure gets AWS's type and wording.
#include "auth/authenticator.h"

#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>

#include "test_util/temp_dir.h"
#include "vectors.h"

namespace tideline::auth {
namespace {

using testing::BotocoreVector;
using testing::kBotocoreVectors;
using testing::kVectorEpoch;
using testing::kVectorKeyId;
using testing::kVectorSecret;

constexpr std::string_view kToken = "IQoJb3JpZ2luX2VjEXAMPLETOKEN//+==";
constexpr int64_t kNow = kVectorEpoch;

Principal Make(std::string id, std::string secret, std::string token = "") {
  Principal p;
  p.credentials = {std::move(id), std::move(secret), std::move(token)};
  p.allow = {"kinesis:*"};
  p.streams = {"*"};
  return p;
}

AuthOptions Options() {
  AuthOptions o;
  o.mode = AuthMode::kSigV4;
  o.principals.push_back(Make(std::string(kVectorKeyId), std::string(kVectorSecret)));
  o.principals.push_back(Make("AKIDTOKEN", std::string(kVectorSecret), std::string(kToken)));
  return o;
}

// A request signed by our signer, kept with its owned header storage.
struct Signed {
  std::string method = "POST";
  std::string target = "/";
  std::string body = R"({"StreamName":"web-1"})";
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<Header> views;

  const std::vector<Header>& Views() {
    views.clear();
    for (const auto& [k, v] : headers)
      views.push_back({k, v});
    return views;
  }
  void Set(const std::string& name, const std::string& value) {
    for (auto& [k, v] : headers) {
      if (k == name) {
        v = value;
        return;
      }
    }
    headers.emplace_back(name, value);
  }
  void Remove(const std::string& name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
  }
};

Signed SignNow(int64_t at, const Credentials& creds, std::string region = "us-east-1",
               std::string service = "kinesis") {
  Signed s;
  s.headers = {{"Host", "127.0.0.1:4567"},
               {"Content-Type", "application/x-amz-json-1.1"},
               {"X-Amz-Target", "Kinesis_20131202.DescribeStreamSummary"}};
  SignRequest req;
  req.method = s.method;
  req.target = s.target;
  req.headers = s.Views();
  req.body = s.body;
  req.region = region;
  req.service = service;
  req.epoch_seconds = at;
  for (auto& h : SignHeaders(req, creds))
    s.headers.push_back(std::move(h));
  return s;
}

Credentials Good() {
  return {std::string(kVectorKeyId), std::string(kVectorSecret), ""};
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  std::optional<AuthError> Check(Signed& s, int64_t now = kNow) {
    AuthRequest req{s.method, s.target, &s.Views(), s.body};
    identity = {};
    return auth.Authenticate(req, now, &identity);
  }
  void ExpectError(const std::optional<AuthError>& e, AuthErrorKind kind,
                   std::string_view message_start) {
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(AuthErrorTypeName(e->kind), AuthErrorTypeName(kind)) << e->message;
    EXPECT_TRUE(e->message.starts_with(message_start)) << e->message;
  }

  Authenticator auth{Options(), "123456789012"};
  Identity identity;
};

TEST_F(AuthenticatorTest, AcceptsEveryBotocoreVector) {
  for (const BotocoreVector& v : kBotocoreVectors) {
    SCOPED_TRACE(v.name);
    std::vector<Header> headers;
    for (const auto& [k, value] : v.sent_headers)
      headers.push_back({k, value});
    AuthOptions o = Options();
    o.principals[1].credentials.access_key_id = "AKIDOTHER";
    // The vectors with a session token were signed by kVectorKeyId with that token.
    o.principals[0].credentials.session_token = std::string(v.session_token);
    Authenticator a(std::move(o), "123456789012");
    AuthRequest req{v.method, v.target, &headers, v.body};
    Identity id;
    const auto error = a.Authenticate(req, kVectorEpoch + 10, &id);
    EXPECT_FALSE(error.has_value()) << error->message;
    EXPECT_EQ(id.region, v.region);
    ASSERT_NE(id.principal, nullptr);
    EXPECT_EQ(id.principal->credentials.access_key_id, kVectorKeyId);
  }
}

TEST_F(AuthenticatorTest, AcceptsOwnSignatureAndReportsTheScopeRegion) {
  Signed s = SignNow(kNow, Good(), "eu-west-1");
  EXPECT_FALSE(Check(s).has_value());
  EXPECT_EQ(identity.region, "eu-west-1");
}

TEST_F(AuthenticatorTest, NoSignatureIsMissingAuthenticationToken) {
  Signed s;
  s.headers = {{"Host", "h"}};
  ExpectError(Check(s), AuthErrorKind::kMissingAuthenticationToken, "Missing Authentication Token");
}

TEST_F(AuthenticatorTest, MalformedAuthorizationIsIncompleteSignature) {
  Signed s = SignNow(kNow, Good());
  s.Set("Authorization", "Basic dXNlcjpwYXNz");
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "Authorization header requires 'Credential' parameter. Authorization header "
              "requires 'Signature' parameter. Authorization header requires 'SignedHeaders' "
              "parameter. Authorization=Basic");
  s.Set("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251203/us-east-1/kinesis/"
        "aws4_request, SignedHeaders=host");
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "Authorization header requires 'Signature' parameter.");
  // An empty part is a missing part.
  s.Set("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251203/us-east-1/kinesis/"
        "aws4_request, SignedHeaders=host, Signature=");
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "Authorization header requires 'Signature' parameter.");
  s.Set("Authorization", "AWS4-HMAC-SHA256 Credential= , SignedHeaders=, Signature=00");
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "Authorization header requires 'Credential' parameter. Authorization header "
              "requires 'SignedHeaders' parameter.");
  s.Set("Authorization", "AWS4-HMAC-SHA512 Credential=a, SignedHeaders=host, Signature=00");
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature, "Unsupported AWS 'algorithm'");
  s = SignNow(kNow, Good());
  std::string auth_value;
  for (auto& [k, v] : s.headers)
    if (k == "Authorization") auth_value = v;
  const size_t scope = auth_value.find("/20251203");
  s.Set("Authorization", auth_value.substr(0, scope) + auth_value.substr(auth_value.find(",")));
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "Credential must have exactly 5 slash-delimited elements");
}

TEST_F(AuthenticatorTest, MissingDateIsIncompleteSignature) {
  Signed s = SignNow(kNow, Good());
  s.Remove("X-Amz-Date");
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
              "header.");
}

TEST_F(AuthenticatorTest, DateHeaderServesWhenXAmzDateIsAbsent) {
  // Sign with a Date header only: the signer adds X-Amz-Date, so sign by hand.
  Signed s = SignNow(kNow, Good());
  s.Remove("X-Amz-Date");
  s.Remove("Authorization");
  s.Set("Date", "Wed, 03 Dec 2025 08:13:56 GMT");
  const std::string signed_headers = "content-type;date;host;x-amz-target";
  const std::string canonical =
      CanonicalRequest(s.method, s.target, s.Views(), signed_headers, Sha256Hex(s.body));
  const std::string sts =
      StringToSign("20251203T081356Z", "20251203/us-east-1/kinesis/aws4_request", canonical);
  const std::string sig =
      SignatureHex(DeriveSigningKey(kVectorSecret, "20251203", "us-east-1", "kinesis"), sts);
  s.Set("Authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251203/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=" +
            signed_headers + ", Signature=" + sig);
  EXPECT_FALSE(Check(s).has_value());
}

TEST_F(AuthenticatorTest, UnknownKeyIsUnrecognizedClient) {
  Signed s = SignNow(kNow, {"AKIDNOBODY", std::string(kVectorSecret), ""});
  ExpectError(Check(s), AuthErrorKind::kUnrecognizedClient,
              "The security token included in the request is invalid.");
}

TEST_F(AuthenticatorTest, WrongSecretIsInvalidSignature) {
  Signed s = SignNow(kNow, {std::string(kVectorKeyId), "not-the-secret", ""});
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "The request signature we calculated does not match the signature you provided. "
              "Check your AWS Secret Access Key and signing method. Consult the service "
              "documentation for details.");
}

TEST_F(AuthenticatorTest, TamperedBodyHeaderOrTargetIsInvalidSignature) {
  Signed s = SignNow(kNow, Good());
  s.body = R"({"StreamName":"web-2"})";
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature, "The request signature we calculated");
  s = SignNow(kNow, Good());
  s.Set("X-Amz-Target", "Kinesis_20131202.DeleteStream");
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature, "The request signature we calculated");
  s = SignNow(kNow, Good());
  s.target = "/?x=1";
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature, "The request signature we calculated");
  s = SignNow(kNow, Good());
  s.method = "PUT";
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature, "The request signature we calculated");
}

TEST_F(AuthenticatorTest, ContentSha256MustMatchTheBody) {
  Signed s = SignNow(kNow, Good());
  s.Set("X-Amz-Content-Sha256", Sha256Hex(s.body));
  EXPECT_FALSE(Check(s).has_value());  // unsigned but true: accepted
  s.Set("X-Amz-Content-Sha256", Sha256Hex("other"));
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

TEST_F(AuthenticatorTest, ClockSkewBeyondFiveMinutesIsRefused) {
  Signed old = SignNow(kNow - 301, Good());
  ExpectError(Check(old), AuthErrorKind::kInvalidSignature,
              "Signature expired: 20251203T080855Z is now earlier than 20251203T080856Z "
              "(20251203T081356Z - 5 min.)");
  Signed ahead = SignNow(kNow + 301, Good());
  ExpectError(Check(ahead), AuthErrorKind::kInvalidSignature,
              "Signature not yet current: 20251203T081857Z is still later than "
              "20251203T081856Z (20251203T081356Z + 5 min.)");
  Signed edge = SignNow(kNow - 300, Good());
  EXPECT_FALSE(Check(edge).has_value());
  Signed edge2 = SignNow(kNow + 300, Good());
  EXPECT_FALSE(Check(edge2).has_value());
}

TEST_F(AuthenticatorTest, CredentialScopeIsChecked) {
  Signed s = SignNow(kNow, Good(), "us-east-1", "firehose");
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "Credential should be scoped to correct service: 'kinesis'. ");
  s = SignNow(kNow, Good(), "US_EAST");
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "Credential should be scoped to a valid region, not 'US_EAST'. ");
  s = SignNow(kNow, Good());
  for (auto& [k, v] : s.headers) {
    if (k == "Authorization") {
      v.replace(v.find("aws4_request"), 12, "aws5_request");
    }
  }
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "Credential should be scoped with a valid terminator: 'aws4_request', not "
              "'aws5_request'. ");
  s = SignNow(kNow, Good());
  for (auto& [k, v] : s.headers) {
    if (k == "Authorization") v.replace(v.find("/20251203/"), 10, "/20251202/");
  }
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
              "from HTTP: '20251202' != '20251203', from '20251203T081356Z'.");
}

TEST_F(AuthenticatorTest, HostMustBeSigned) {
  Signed s;
  s.headers = {{"Host", "h"}};
  SignRequest req{"POST", "/", {{"X-Amz-Target", "x"}}, s.body, {}, "us-east-1", "kinesis", kNow};
  for (auto& h : SignHeaders(req, Good()))
    s.headers.push_back(std::move(h));
  s.headers.emplace_back("X-Amz-Target", "x");
  ExpectError(Check(s), AuthErrorKind::kInvalidSignature,
              "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.");
}

TEST_F(AuthenticatorTest, SessionTokenMustMatch) {
  const Credentials with_token{"AKIDTOKEN", std::string(kVectorSecret), std::string(kToken)};
  Signed s = SignNow(kNow, with_token);
  EXPECT_FALSE(Check(s).has_value());
  s.Set("X-Amz-Security-Token", "forged");
  ExpectError(Check(s), AuthErrorKind::kUnrecognizedClient,
              "The security token included in the request is invalid.");
  Signed none = SignNow(kNow, {"AKIDTOKEN", std::string(kVectorSecret), ""});
  ExpectError(Check(none), AuthErrorKind::kUnrecognizedClient, "The security token");
  // A key configured without a token refuses requests that carry one.
  Signed extra = SignNow(kNow, {std::string(kVectorKeyId), std::string(kVectorSecret), "tok"});
  ExpectError(Check(extra), AuthErrorKind::kUnrecognizedClient, "The security token");
}

TEST_F(AuthenticatorTest, PresignedRequestsWorkUntilTheyExpire) {
  Signed s;
  s.method = "GET";
  s.body = "";
  s.headers = {{"Host", "127.0.0.1:4567"}};
  SignRequest req{"GET",     "/pipelines", {{"Host", "127.0.0.1:4567"}}, "", {}, "us-west-2",
                  "kinesis", kNow};
  s.target = PresignTarget(req, Good(), 60);
  EXPECT_FALSE(Check(s, kNow + 60).has_value());
  EXPECT_EQ(identity.region, "us-west-2");
  ExpectError(Check(s, kNow + 61), AuthErrorKind::kInvalidSignature,
              "Signature expired: 20251203T081456Z is now earlier than 20251203T081457Z");
  ExpectError(Check(s, kNow - 301), AuthErrorKind::kInvalidSignature, "Signature not yet current");
  Signed tampered = s;
  tampered.target.replace(tampered.target.find("/pipelines"), 10, "/pipelineX");
  ExpectError(Check(tampered, kNow), AuthErrorKind::kInvalidSignature,
              "The request signature we calculated");
}

TEST_F(AuthenticatorTest, PresignedQueryMustBeComplete) {
  Signed s;
  s.method = "GET";
  s.body = "";
  s.headers = {{"Host", "h"}};
  s.target = "/pipelines?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20251203T081356Z";
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature,
              "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string "
              "parameters must include 'X-Amz-Signature'. AWS query-string parameters must "
              "include 'X-Amz-SignedHeaders'. Re-examine the query-string parameters.");
  s.target =
      "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb&X-Amz-Date=20251203T081356Z&"
      "X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=604801";
  ExpectError(Check(s), AuthErrorKind::kIncompleteSignature, "X-Amz-Expires must be an integer");
}

TEST_F(AuthenticatorTest, SigningKeysAreDerivedOncePerDayAndRegion) {
  for (int i = 0; i < 20; ++i) {
    Signed s = SignNow(kNow + i, Good());
    ASSERT_FALSE(Check(s, kNow + i).has_value());
  }
  EXPECT_EQ(auth.key_derivations(), 1u);
  Signed other = SignNow(kNow, Good(), "eu-west-1");
  ASSERT_FALSE(Check(other).has_value());
  EXPECT_EQ(auth.key_derivations(), 2u);
  // The next day needs a new key.
  Signed tomorrow = SignNow(kNow + 86400, Good());
  ASSERT_FALSE(Check(tomorrow, kNow + 86400).has_value());
  EXPECT_EQ(auth.key_derivations(), 3u);
}

TEST_F(AuthenticatorTest, AuthorizeReportsAwsAccessDenied) {
  AuthOptions o = Options();
  o.principals[0].user = "producer";
  o.principals[0].allow = {"kinesis:PutRecord", "kinesis:Describe*"};
  o.principals[0].streams = {"web-*"};
  Authenticator a(std::move(o), "123456789012");
  Identity id{&a.options().principals[0], "us-east-1"};
  EXPECT_FALSE(a.Authorize(id, "kinesis:PutRecord", a.StreamArn("us-east-1", "web-1")));
  const auto denied = a.Authorize(id, "kinesis:PutRecord", a.StreamArn("us-east-1", "orders"));
  ASSERT_TRUE(denied.has_value());
  EXPECT_EQ(AuthErrorTypeName(denied->kind), "AccessDeniedException");
  EXPECT_EQ(denied->message,
            "User: arn:aws:iam::123456789012:user/producer is not authorized to perform: "
            "kinesis:PutRecord on resource: arn:aws:kinesis:us-east-1:123456789012:stream/orders "
            "because no identity-based policy allows the kinesis:PutRecord action");
  EXPECT_TRUE(a.Authorize(id, "kinesis:DeleteStream", a.StreamArn("us-east-1", "web-1")));
  EXPECT_TRUE(a.Authorize(id, "tideline:ResetPipeline", a.AdminArn("us-east-1", "pipeline/x")));
}

TEST(AuthOptionsTest, ValidationNamesTheProblem) {
  AuthOptions o = Options();
  EXPECT_TRUE(ValidateAuthOptions(o).ok());
  o.principals[1].credentials.access_key_id = std::string(kVectorKeyId);
  EXPECT_EQ(ValidateAuthOptions(o).message(),
            "credentials[1].access_key_id: duplicate access key id AKIDEXAMPLE");
  o = Options();
  o.principals[0].allow = {"PutRecord"};
  EXPECT_TRUE(ValidateAuthOptions(o).message().starts_with("credentials[0].allow: expected"));
  o = Options();
  o.principals.clear();
  EXPECT_FALSE(ValidateAuthOptions(o).ok());
  o.mode = AuthMode::kNone;
  EXPECT_TRUE(ValidateAuthOptions(o).ok());
}

TEST(SecretFileTest, RefusesFilesOthersCanRead) {
  tideline::testing::TempDir dir;
  const std::string path = dir.Sub("key.secret").string();
  std::ofstream(path) << "  s3cret\n";
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  const auto open = ReadSecretFile(path);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find(path), std::string::npos);
  EXPECT_NE(open.status().message().find("0644"), std::string::npos);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  EXPECT_FALSE(ReadSecretFile(path).ok());
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  const auto ok = ReadSecretFile(path);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(*ok, "s3cret");
  EXPECT_FALSE(ReadSecretFile(dir.Sub("absent").string()).ok());
  std::ofstream(dir.Sub("empty").string()) << "\n";
  ASSERT_EQ(::chmod(dir.Sub("empty").c_str(), 0600), 0);
  EXPECT_FALSE(ReadSecretFile(dir.Sub("empty").string()).ok());
}

TEST(CredentialScopeRegionTest, ReadsTheRegionFromEitherSignedForm) {
  constexpr std::string_view kHeader =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-west-2/kinesis/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=00";
  EXPECT_EQ(CredentialScopeRegion(kHeader, ""), "us-west-2");
  // Blanks around '=' and a Credential that is not the first item, as the verifier accepts.
  EXPECT_EQ(CredentialScopeRegion("AWS4-HMAC-SHA256 SignedHeaders=host, Credential = "
                                  "K/20260101/eu-central-1/kinesis/aws4_request, Signature=0",
                                  ""),
            "eu-central-1");
  const std::string query =
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=K%2F20260101%2Fap-south-1%2Fkinesis%2F"
      "aws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&"
      "X-Amz-Signature=00";
  EXPECT_EQ(CredentialScopeRegion("", query), "ap-south-1");
  // The presigned form wins, as Authenticate decides.
  EXPECT_EQ(CredentialScopeRegion(kHeader, query), "ap-south-1");
}

TEST(CredentialScopeRegionTest, AnythingElseHasNoRegion) {
  EXPECT_EQ(CredentialScopeRegion("", ""), "");
  EXPECT_EQ(CredentialScopeRegion("Bearer abc", "x=1"), "");
  EXPECT_EQ(CredentialScopeRegion("AWS4-HMAC-SHA256", ""), "");
  EXPECT_EQ(
      CredentialScopeRegion("AWS4-HMAC-SHA256Credential=K/d/us-west-2/kinesis/aws4_request", ""),
      "");
  EXPECT_EQ(CredentialScopeRegion("AWS4-HMAC-SHA256 Credential=K/d/us-west-2/kinesis", ""), "");
  EXPECT_EQ(
      CredentialScopeRegion("AWS4-HMAC-SHA256 Credential=K/d/US_WEST/kinesis/aws4_request", ""),
      "");
  EXPECT_EQ(CredentialScopeRegion("AWS4-HMAC-SHA256 Credential=K/d/a:b/kinesis/aws4_request", ""),
            "");
  EXPECT_EQ(CredentialScopeRegion("AWS4-HMAC-SHA256 Credential=K/d//kinesis/aws4_request", ""), "");
  EXPECT_EQ(
      CredentialScopeRegion(
          "AWS4-HMAC-SHA256 Credential=K/d/" + std::string(33, 'a') + "/kinesis/aws4_request", ""),
      "");
}

}  // namespace
}  // namespace tideline::auth
