// The `auth:` section: strict keys, secret sources, and errors naming file:line:key.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>

#include <gtest/gtest.h>

#include "cli/config.h"
#include "test_util/temp_dir.h"

namespace tideline::cli {
namespace {

std::string ErrorOf(const std::string& yaml) {
  Result<Config> r = ParseConfig(yaml, "config.yaml");
  EXPECT_FALSE(r.ok()) << yaml;
  return r.ok() ? std::string() : r.status().message();
}

TEST(ConfigAuth, DefaultIsModeNoneWithOpenMetrics) {
  Result<Config> c = ParseConfig("server:\n  listen: 127.0.0.1:1\n", "config.yaml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->server.auth.mode, auth::AuthMode::kNone);
  EXPECT_EQ(c->server.auth.metrics, auth::MetricsAccess::kOpen);
  EXPECT_TRUE(c->server.auth.principals.empty());
}

TEST(ConfigAuth, ReadsTheDocumentedExample) {
  tideline::testing::TempDir dir;
  const std::string secret = dir.Sub("admin.secret").string();
  std::ofstream(secret) << "admin-secret\n";
  ASSERT_EQ(::chmod(secret.c_str(), 0600), 0);
  ::setenv("TIDELINE_TEST_PRODUCER_SECRET", "producer-secret", 1);
  const std::string yaml =
      "auth:\n"
      "  mode: sigv4\n"
      "  metrics: protected\n"
      "  credentials:\n"
      "    - access_key_id: AKIDPRODUCER\n"
      "      secret_access_key_env: TIDELINE_TEST_PRODUCER_SECRET\n"
      "      session_token: tok\n"
      "      allow: [\"kinesis:PutRecord\", \"kinesis:Describe*\"]\n"
      "      streams: [\"web-*\"]\n"
      "    - access_key_id: AKIDADMIN\n"
      "      user: admin\n"
      "      secret_access_key_file: " +
      secret +
      "\n"
      "      allow: [\"kinesis:*\", \"tideline:*\"]\n"
      "      streams: [\"*\"]\n"
      "    - access_key_id: AKIDINLINE\n"
      "      secret_access_key: inline\n"
      "      allow: []\n";
  Result<Config> c = ParseConfig(yaml, "config.yaml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auth::AuthOptions& a = c->server.auth;
  EXPECT_EQ(a.mode, auth::AuthMode::kSigV4);
  EXPECT_EQ(a.metrics, auth::MetricsAccess::kProtected);
  ASSERT_EQ(a.principals.size(), 3u);
  EXPECT_EQ(a.principals[0].credentials.secret_access_key, "producer-secret");
  EXPECT_EQ(a.principals[0].credentials.session_token, "tok");
  EXPECT_EQ(a.principals[0].allow.size(), 2u);
  EXPECT_EQ(a.principals[0].streams, std::vector<std::string>{"web-*"});
  EXPECT_EQ(a.principals[1].credentials.secret_access_key, "admin-secret");
  EXPECT_EQ(a.principals[1].user, "admin");
  EXPECT_EQ(a.principals[2].credentials.secret_access_key, "inline");
}

TEST(ConfigAuth, ErrorsNameFileLineAndKey) {
  EXPECT_EQ(ErrorOf("auth:\n  mode: sigv5\n"),
            "config.yaml:2: auth.mode: expected one of none, sigv4, got \"sigv5\"");
  EXPECT_EQ(ErrorOf("auth:\n  metrics: closed\n"),
            "config.yaml:2: auth.metrics: expected one of open, protected, got \"closed\"");
  EXPECT_EQ(ErrorOf("auth:\n  mode: sigv4\n"),
            "config.yaml:1: auth: mode sigv4 needs at least one access key");
  EXPECT_EQ(ErrorOf("auth:\n  credentials:\n    - access_key_id: A\n      secret: x\n"),
            "config.yaml:4: auth.credentials[0].secret: unknown key (expected one of "
            "access_key_id, secret_access_key, secret_access_key_file, secret_access_key_env, "
            "session_token, user, allow, streams)");
  EXPECT_EQ(ErrorOf("auth:\n  credentials:\n    - access_key_id: A\n      allow: []\n"),
            "config.yaml:3: auth.credentials[0]: expected exactly one of secret_access_key, "
            "secret_access_key_file, secret_access_key_env");
  EXPECT_EQ(ErrorOf("auth:\n  credentials:\n    - access_key_id: A\n      secret_access_key: s\n"
                    "      allow: [PutRecord]\n"),
            "config.yaml:3: auth.credentials[0].allow: expected SERVICE:ACTION patterns such as "
            "kinesis:PutRecord or kinesis:Describe*, got \"PutRecord\"");
  EXPECT_EQ(ErrorOf("auth:\n  credentials:\n    - access_key_id: A\n      secret_access_key: s\n"
                    "      allow: []\n    - access_key_id: A\n      secret_access_key: t\n"
                    "      allow: []\n"),
            "config.yaml:6: auth.credentials[1]: duplicate access_key_id A");
  EXPECT_EQ(ErrorOf("auth:\n  credentials:\n    - access_key_id: A\n"
                    "      secret_access_key_env: TIDELINE_TEST_UNSET_VARIABLE\n      allow: []\n"),
            "config.yaml:4: auth.credentials[0].secret_access_key_env: environment variable "
            "TIDELINE_TEST_UNSET_VARIABLE is not set");
  EXPECT_EQ(ErrorOf("auth:\n  credentials:\n    - secret_access_key: s\n      allow: []\n"),
            "config.yaml:3: auth.credentials[0]: access_key_id: required");
}

TEST(ConfigAuth, SecretFileReadableByOthersIsRefusedNamingTheFile) {
  tideline::testing::TempDir dir;
  const std::string secret = dir.Sub("open.secret").string();
  std::ofstream(secret) << "s\n";
  ASSERT_EQ(::chmod(secret.c_str(), 0644), 0);
  const std::string message = ErrorOf(
      "auth:\n  credentials:\n    - access_key_id: A\n      secret_access_key_file: " + secret +
      "\n      allow: []\n");
  EXPECT_EQ(message, "config.yaml:4: auth.credentials[0].secret_access_key_file: secret file " +
                         secret +
                         " has mode 0644: it must not be accessible by group or others "
                         "(chmod 600)");
}

}  // namespace
}  // namespace tideline::cli
