#include "common/regional_stream.h"

#include <gtest/gtest.h>

namespace tideline {
namespace {

TEST(RegionalStreamTest, DefaultRegionKeepsPlainNamesOthersArePrefixed) {
  EXPECT_EQ(StoredStreamName("", "us-east-1", "logs"), "logs");
  EXPECT_EQ(StoredStreamName("us-east-1", "us-east-1", "logs"), "logs");
  EXPECT_EQ(StoredStreamName("us-west-2", "us-east-1", "logs"), "us-west-2:logs");
}

TEST(RegionalStreamTest, SplitGivesBackRegionAndName) {
  const auto plain = SplitStoredStreamName("logs");
  EXPECT_EQ(plain.region, "");
  EXPECT_EQ(plain.name, "logs");
  const auto regional = SplitStoredStreamName("eu-west-1:a.b-c_d");
  EXPECT_EQ(regional.region, "eu-west-1");
  EXPECT_EQ(regional.name, "a.b-c_d");
}

TEST(RegionalStreamTest, ValidationAcceptsBothFormsAndNothingElse) {
  EXPECT_TRUE(IsValidStoredStreamName("logs"));
  EXPECT_TRUE(IsValidStoredStreamName("us-west-2:logs"));
  EXPECT_TRUE(IsValidStoredStreamName(std::string(32, 'a') + ":" + std::string(128, 'x')));
  EXPECT_FALSE(IsValidStoredStreamName(""));
  EXPECT_FALSE(IsValidStoredStreamName(":logs"));
  EXPECT_FALSE(IsValidStoredStreamName("us-west-2:"));
  EXPECT_FALSE(IsValidStoredStreamName("US-WEST-2:logs"));
  EXPECT_FALSE(IsValidStoredStreamName("a:b:c"));
  EXPECT_FALSE(IsValidStoredStreamName(std::string(33, 'a') + ":logs"));
  EXPECT_TRUE(ValidateStoredStreamName("us-west-2:logs").ok());
  const Status bad_region = ValidateStoredStreamName("us_west:logs");
  EXPECT_EQ(bad_region.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_region.message().find("region"), std::string::npos) << bad_region.message();
  EXPECT_EQ(ValidateStoredStreamName("us-west-2:a b").code(), StatusCode::kInvalidArgument);
}

TEST(RegionalStreamTest, RegionRule) {
  EXPECT_TRUE(IsValidRegion("us-east-1"));
  EXPECT_TRUE(IsValidRegion(std::string(32, 'a')));
  EXPECT_FALSE(IsValidRegion(""));
  EXPECT_FALSE(IsValidRegion(std::string(33, 'a')));
  EXPECT_FALSE(IsValidRegion("us-east-1:"));
  EXPECT_FALSE(IsValidRegion("Us-east-1"));
}

}  // namespace
}  // namespace tideline
