#include "common/types.h"

#include "common/aws_account.h"

#include <string>
#include <unordered_set>

#include <gtest/gtest.h>

namespace tideline {
namespace {

TEST(StreamNameTest, AcceptsKinesisNamesOnly) {
  EXPECT_TRUE(StreamName::IsValid("a-b_c.9"));
  EXPECT_TRUE(StreamName::IsValid(std::string(128, 'a')));
  EXPECT_FALSE(StreamName::IsValid(""));
  EXPECT_FALSE(StreamName::IsValid(std::string(129, 'a')));
  EXPECT_FALSE(StreamName::IsValid("a b"));
  EXPECT_FALSE(StreamName::IsValid("a/b"));
  EXPECT_FALSE(StreamName::IsValid("caf\xc3\xa9"));
  EXPECT_FALSE(StreamName::IsValid(std::string("a\0b", 3)));
}

TEST(StreamNameTest, ParseSaysWhichRuleIsBroken) {
  auto ok = StreamName::Parse("web-logs");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->get(), "web-logs");

  auto too_long = StreamName::Parse(std::string(129, 'a'));
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_long.status().message().find("1..128"), std::string::npos);

  auto bad_char = StreamName::Parse("web logs");
  ASSERT_FALSE(bad_char.ok());
  EXPECT_NE(bad_char.status().message().find("[a-zA-Z0-9_.-]"), std::string::npos);
}

TEST(StreamNameTest, IsAStrongTypeThatHashesAndCompares) {
  std::unordered_set<StreamName> names{StreamName("a"), StreamName("b"), StreamName("a")};
  EXPECT_EQ(names.size(), 2u);
  EXPECT_LT(StreamName("a"), StreamName("b"));
  EXPECT_EQ(StreamName("a"), StreamName("a"));
}

TEST(AwsAccountTest, ValidateNamesTheMalformedMember) {
  EXPECT_TRUE(AwsAccount{}.Validate().ok());
  EXPECT_TRUE((AwsAccount{"eu-west-1", "000000000001"}).Validate().ok());
  const Status region = AwsAccount{"EU WEST", "123456789012"}.Validate();
  EXPECT_EQ(region.message(), "region: expected 1..32 characters of [a-z0-9-], got \"EU WEST\"");
  EXPECT_FALSE((AwsAccount{"", "123456789012"}).Validate().ok());
  const Status account = AwsAccount{"us-east-1", "12345"}.Validate();
  EXPECT_EQ(account.message(), "account_id: expected 12 digits, got \"12345\"");
  EXPECT_FALSE((AwsAccount{"us-east-1", "12345678901x"}).Validate().ok());
}

}  // namespace
}  // namespace tideline
