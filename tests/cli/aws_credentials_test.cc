// Credential and region sources of the client commands, in the AWS CLI's order.
#include "cli/aws_credentials.h"

#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "test_util/temp_dir.h"

namespace tideline::cli {
namespace {

class AwsCredentialsTest : public ::testing::Test {
 protected:
  AwsCredentialsTest() {
    std::ofstream(dir_.Sub("credentials").string())
        << "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s-default\n"
        << "# comment\n[producer]\n aws_access_key_id=AKIDPRODUCER \n"
        << "aws_secret_access_key = s-producer\naws_session_token = tok\n";
    std::ofstream(dir_.Sub("config").string())
        << "[default]\nregion = eu-west-1\n[profile producer]\nregion = ap-south-1\n";
    env_["AWS_SHARED_CREDENTIALS_FILE"] = dir_.Sub("credentials").string();
    env_["AWS_CONFIG_FILE"] = dir_.Sub("config").string();
    env_["HOME"] = dir_.path().string();
  }
  ClientAuth Resolve(const std::string& region_flag = "") {
    return ResolveClientAuth(region_flag, "", [this](const std::string& name) {
      const auto it = env_.find(name);
      return it == env_.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
  }

  tideline::testing::TempDir dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(AwsCredentialsTest, EnvironmentKeysWinOverTheFile) {
  env_["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  env_["AWS_SECRET_ACCESS_KEY"] = "s-env";
  env_["AWS_SESSION_TOKEN"] = "t-env";
  const ClientAuth a = Resolve();
  ASSERT_TRUE(a.credentials);
  EXPECT_EQ(a.credentials->access_key_id, "AKIDENV");
  EXPECT_EQ(a.credentials->secret_access_key, "s-env");
  EXPECT_EQ(a.credentials->session_token, "t-env");
}

TEST_F(AwsCredentialsTest, ProfileFromTheSharedFile) {
  ClientAuth a = Resolve();
  ASSERT_TRUE(a.credentials);
  EXPECT_EQ(a.credentials->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(a.region, "eu-west-1");
  env_["AWS_PROFILE"] = "producer";
  a = Resolve();
  ASSERT_TRUE(a.credentials);
  EXPECT_EQ(a.credentials->access_key_id, "AKIDPRODUCER");
  EXPECT_EQ(a.credentials->secret_access_key, "s-producer");
  EXPECT_EQ(a.credentials->session_token, "tok");
  EXPECT_EQ(a.region, "ap-south-1");
}

TEST_F(AwsCredentialsTest, RegionOrder) {
  env_["AWS_DEFAULT_REGION"] = "us-west-1";
  EXPECT_EQ(Resolve().region, "us-west-1");
  env_["AWS_REGION"] = "us-west-2";
  EXPECT_EQ(Resolve().region, "us-west-2");
  EXPECT_EQ(Resolve("sa-east-1").region, "sa-east-1");
  env_.clear();
  env_["HOME"] = dir_.Sub("nowhere").string();
  EXPECT_EQ(Resolve().region, "us-east-1");
}

TEST_F(AwsCredentialsTest, NothingFoundMeansUnsigned) {
  env_["AWS_PROFILE"] = "absent";
  EXPECT_FALSE(Resolve().credentials);
  env_.erase("AWS_PROFILE");
  env_["AWS_SHARED_CREDENTIALS_FILE"] = dir_.Sub("none").string();
  EXPECT_FALSE(Resolve().credentials);
}

}  // namespace
}  // namespace tideline::cli
