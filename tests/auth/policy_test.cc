#include "auth/policy.h"

#include <gtest/gtest.h>

namespace tideline::auth {
namespace {

Principal Producer() {
  Principal p;
  p.credentials = {"AKIDPRODUCER", "secret", ""};
  p.allow = {"kinesis:PutRecord", "kinesis:PutRecords", "kinesis:Describe*", "kinesis:List*"};
  p.streams = {"web-*"};
  return p;
}

constexpr std::string_view kWeb = "arn:aws:kinesis:us-east-1:123456789012:stream/web-1";
constexpr std::string_view kOrders = "arn:aws:kinesis:us-east-1:123456789012:stream/orders";

TEST(GlobMatch, StarsAndQuestionMarks) {
  EXPECT_TRUE(GlobMatch("*", "", false));
  EXPECT_TRUE(GlobMatch("web-*", "web-", false));
  EXPECT_TRUE(GlobMatch("web-*", "web-logs", false));
  EXPECT_FALSE(GlobMatch("web-*", "xweb-logs", false));
  EXPECT_TRUE(GlobMatch("a?c", "abc", false));
  EXPECT_FALSE(GlobMatch("a?c", "ac", false));
  EXPECT_TRUE(GlobMatch("*-logs-*", "web-logs-2", false));
  EXPECT_TRUE(GlobMatch("a*b*c", "aXbYbZc", false));
  EXPECT_FALSE(GlobMatch("a*b*c", "aXbYbZ", false));
  EXPECT_FALSE(GlobMatch("Web-*", "web-1", false));
  EXPECT_TRUE(GlobMatch("Web-*", "web-1", true));
}

TEST(Policy, ActionsMatchCaseInsensitivelyLikeIam) {
  const Principal p = Producer();
  EXPECT_TRUE(AllowsAction(p, "kinesis:PutRecord"));
  EXPECT_TRUE(AllowsAction(p, "KINESIS:putrecord"));
  EXPECT_TRUE(AllowsAction(p, "kinesis:DescribeStreamSummary"));
  EXPECT_TRUE(AllowsAction(p, "kinesis:ListShards"));
  EXPECT_FALSE(AllowsAction(p, "kinesis:DeleteStream"));
  EXPECT_FALSE(AllowsAction(p, "kinesis:GetRecords"));
  EXPECT_FALSE(AllowsAction(p, "tideline:ResetPipeline"));
  Principal admin = p;
  admin.allow = {"kinesis:*", "tideline:*"};
  EXPECT_TRUE(AllowsAction(admin, "kinesis:DeleteStream"));
  EXPECT_TRUE(AllowsAction(admin, "tideline:ResetPipeline"));
  EXPECT_FALSE(AllowsAction(admin, "firehose:PutRecord"));
}

TEST(Policy, StreamNamePatternsMatchTheNameOnly) {
  const Principal p = Producer();
  EXPECT_TRUE(AllowsResource(p, kWeb));
  EXPECT_FALSE(AllowsResource(p, kOrders));
  // Calls that name no stream act on stream/*: a name pattern must match "*" itself.
  EXPECT_FALSE(AllowsResource(p, "arn:aws:kinesis:us-east-1:123456789012:stream/*"));
  Principal all = p;
  all.streams = {"*"};
  EXPECT_TRUE(AllowsResource(all, "arn:aws:kinesis:us-east-1:123456789012:stream/*"));
  EXPECT_TRUE(AllowsResource(all, kOrders));
}

TEST(Policy, ArnPatternsMatchTheWholeArn) {
  Principal p = Producer();
  p.streams = {"arn:aws:kinesis:eu-*:123456789012:stream/web-*"};
  EXPECT_FALSE(AllowsResource(p, kWeb));
  EXPECT_TRUE(AllowsResource(p, "arn:aws:kinesis:eu-west-1:123456789012:stream/web-1"));
  EXPECT_FALSE(AllowsResource(p, "arn:aws:kinesis:eu-west-1:999999999999:stream/web-1"));
}

TEST(Policy, NonStreamResourcesAreGovernedByTheActionAlone) {
  Principal p = Producer();
  p.streams = {};
  EXPECT_TRUE(AllowsResource(p, "arn:aws:tideline:us-east-1:123456789012:pipeline/web"));
  EXPECT_FALSE(AllowsResource(p, kWeb));
}

}  // namespace
}  // namespace tideline::auth
