// The model validator: every constraint kind with AWS's wording, the order and count of several
// failures, nested lists, maps, missing members, wrong JSON types at every level; and the
// hand-written pattern checks against the model's regular expressions.
#include <random>
#include <regex>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "kinesis_model.h"
#include "model_patterns.h"
#include "model_validator.h"

namespace tideline::server {
namespace {

struct Outcome {
  std::string type;  // empty when the request conforms
  std::string message;
};

Outcome Check(std::string_view operation, const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  EXPECT_FALSE(doc.HasParseError()) << json;
  const auto r = ValidateRequest(operation, doc);
  if (!r) return {};
  rapidjson::Document body;
  body.Parse(r->body.c_str());
  EXPECT_EQ(r->status, 400u);
  const char* key = r->error_type == "SerializationException" ? "Message" : "message";
  EXPECT_TRUE(body.HasMember(key)) << r->body;
  return {r->error_type, body.HasMember(key) ? body[key].GetString() : ""};
}

void ExpectSerialization(std::string_view op, const std::string& json, const std::string& msg) {
  const Outcome o = Check(op, json);
  EXPECT_EQ(o.type, "SerializationException") << json << " -> " << o.message;
  EXPECT_EQ(o.message, msg) << json;
}

void ExpectValidation(std::string_view op, const std::string& json, const std::string& msg) {
  const Outcome o = Check(op, json);
  EXPECT_EQ(o.type, "ValidationException") << json << " -> " << o.message;
  EXPECT_EQ(o.message, msg) << json;
}

void ExpectConforms(std::string_view op, const std::string& json) {
  const Outcome o = Check(op, json);
  EXPECT_EQ(o.type, "") << json << " -> " << o.message;
}

TEST(ModelTest, HasEveryKinesisOperationWithItsInput) {
  EXPECT_GE(model::Operations().size(), 39u);
  const model::Operation* put = model::FindOperation("PutRecords");
  ASSERT_NE(put, nullptr);
  const model::Shape& input = model::ShapeAt(put->input);
  EXPECT_EQ(input.name, "PutRecordsInput");
  EXPECT_TRUE(input.has_blob_or_timestamp);
  ASSERT_FALSE(model::MembersOf(input).empty());
  EXPECT_EQ(model::MembersOf(input)[0].name, "Records");  // sorted by name
  EXPECT_TRUE(model::MembersOf(input)[0].required);
  EXPECT_EQ(model::FindOperation("NoSuchOperation"), nullptr);
  EXPECT_NE(model::FindOperation("SplitShard"), nullptr);
}

TEST(ModelValidatorTest, ConformingRequestsPass) {
  ExpectConforms("CreateStream", R"({"StreamName":"a-b_c.1","ShardCount":3})");
  ExpectConforms("PutRecords", R"({"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"k"},)"
                               R"({"Data":"","PartitionKey":"k","ExplicitHashKey":"0"}]})");
  ExpectConforms("GetShardIterator",
                 R"({"StreamName":"s","ShardId":"shardId-0","ShardIteratorType":"AT_TIMESTAMP",)"
                 R"("Timestamp":1700000000.5})");
  ExpectConforms("DescribeLimits", "{}");
}

TEST(ModelValidatorTest, UnknownMembersAndNullsAreIgnored) {
  ExpectConforms("ListStreams", R"({"Bogus":[1,{"x":true}],"Limit":null})");
  ExpectValidation("CreateStream", R"({"StreamName":null})",
                   "1 validation error detected: Value null at 'streamName' failed to satisfy "
                   "constraint: Member must not be null");
}

TEST(ModelValidatorTest, WrongJsonTypesAreSerializationExceptions) {
  const std::string number = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";
  // Strings.
  ExpectSerialization("DeleteStream", R"({"StreamName":true})",
                      "class java.lang.Boolean can not be converted to an String");
  ExpectSerialization("DeleteStream", R"({"StreamName":12})",
                      number + " can not be converted to an String");
  ExpectSerialization("DeleteStream", R"({"StreamName":34.5})",
                      number + " can not be converted to an String");
  ExpectSerialization("DeleteStream", R"({"StreamName":[]})",
                      "Start of list found where not expected");
  ExpectSerialization("DeleteStream", R"({"StreamName":{}})",
                      "Start of structure or map found where not expected.");
  // Integers and longs.
  ExpectSerialization("ListStreams", R"({"Limit":"5"})",
                      "class java.lang.String can not be converted to an Integer");
  ExpectSerialization("ListStreams", R"({"Limit":false})",
                      "class java.lang.Boolean can not be converted to an Integer");
  // Booleans.
  ExpectSerialization("DeleteStream", R"({"StreamName":"s","EnforceConsumerDeletion":3})",
                      number + " can not be converted to an Boolean");
  ExpectSerialization("DeleteStream", R"({"StreamName":"s","EnforceConsumerDeletion":"maybe"})",
                      "'MAYBE' can not be converted to an Boolean");
  ExpectConforms("DeleteStream", R"({"StreamName":"s","EnforceConsumerDeletion":"true"})");
  // Timestamps.
  ExpectSerialization("GetShardIterator",
                      R"({"ShardId":"a","ShardIteratorType":"LATEST","Timestamp":"now"})",
                      "class java.lang.String can not be converted to milliseconds since epoch");
  // Lists, maps, structures.
  ExpectSerialization("PutRecords", R"({"Records":"x"})", "Expected list or null");
  ExpectSerialization("PutRecords", R"({"Records":{}})",
                      "Start of structure or map found where not expected.");
  ExpectSerialization("PutRecords", R"({"Records":[5]})", "Expected null");
  ExpectSerialization("PutRecords", R"({"Records":[[]]})",
                      "Start of list found where not expected");
  ExpectSerialization("AddTagsToStream", R"({"Tags":7})", "Expected map or null");
  ExpectSerialization("AddTagsToStream", R"({"Tags":[]})",
                      "Start of list found where not expected");
  ExpectSerialization("AddTagsToStream", R"({"Tags":{"k":1}})",
                      number + " can not be converted to an String");
  ExpectSerialization("ListShards", R"({"ShardFilter":"x"})", "Expected null");
  ExpectSerialization("ListShards", R"({"ShardFilter":{"Type":false}})",
                      "class java.lang.Boolean can not be converted to an String");
  // Deep in a list entry.
  ExpectSerialization("PutRecords", R"({"Records":[{"Data":"","PartitionKey":"k"},{"Data":7}]})",
                      number + " can not be converted to a Blob");
  ExpectSerialization("PutRecords", R"({"Records":[{"PartitionKey":{}}]})",
                      "Start of structure or map found where not expected.");
}

TEST(ModelValidatorTest, TypeErrorsWinOverConstraintErrors) {
  ExpectSerialization("CreateStream", R"({"StreamName":"bad name","ShardCount":"1"})",
                      "class java.lang.String can not be converted to an Integer");
}

TEST(ModelValidatorTest, BlobsMustBeCanonicalBase64) {
  ExpectSerialization("PutRecord", R"({"Data":"23456","PartitionKey":"k"})",
                      "'23456' can not be converted to a Blob: Base64 encoded length is expected a "
                      "multiple of 4 bytes but found: 5");
  ExpectSerialization("PutRecord", R"({"Data":"=+/=","PartitionKey":"k"})",
                      "'=+/=' can not be converted to a Blob: Invalid Base64 character: '='");
  ExpectSerialization("PutRecord", R"({"Data":"ab!d","PartitionKey":"k"})",
                      "'ab!d' can not be converted to a Blob: Invalid Base64 character: '!'");
  ExpectSerialization("PutRecord", R"({"Data":"+/+=","PartitionKey":"k"})",
                      "'+/+=' can not be converted to a Blob: Invalid last non-pad Base64 "
                      "character dectected");
  ExpectSerialization("PutRecord", R"({"Data":"a===","PartitionKey":"k"})",
                      "'a===' can not be converted to a Blob: Invalid last non-pad Base64 "
                      "character dectected");
  ExpectConforms("PutRecord", R"({"StreamName":"s","Data":"+/8=","PartitionKey":"k"})");
  ExpectConforms("PutRecord", R"({"StreamName":"s","Data":"YQ==","PartitionKey":"k"})");
}

TEST(ModelValidatorTest, EachConstraintKindHasAwsWording) {
  // Required.
  ExpectValidation("PutRecords", "{}",
                   "1 validation error detected: Value null at 'records' failed to satisfy "
                   "constraint: Member must not be null");
  // Pattern and minimum length, in that order.
  ExpectValidation("DeleteStream", R"({"StreamName":""})",
                   "2 validation errors detected: Value '' at 'streamName' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
                   "Value '' at 'streamName' failed to satisfy constraint: Member must have "
                   "length greater than or equal to 1");
  // Maximum length.
  const std::string long_name(129, 'a');
  ExpectValidation("DeleteStream", R"({"StreamName":")" + long_name + R"("})",
                   "1 validation error detected: Value '" + long_name +
                       "' at 'streamName' failed to satisfy constraint: Member must have length "
                       "less than or equal to 128");
  // Value range.
  ExpectValidation("ListStreams", R"({"Limit":0})",
                   "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                   "constraint: Member must have value greater than or equal to 1");
  ExpectValidation("ListStreams", R"({"Limit":10001})",
                   "1 validation error detected: Value '10001' at 'limit' failed to satisfy "
                   "constraint: Member must have value less than or equal to 10000");
  // Enum.
  ExpectValidation("GetShardIterator", R"({"ShardId":"a","ShardIteratorType":"OLDEST"})",
                   "1 validation error detected: Value 'OLDEST' at 'shardIteratorType' failed to "
                   "satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, "
                   "AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]");
  // Blob length, shown as Java's buffer.
  const std::string big(14 * 1024 * 1024, 'A');
  ExpectValidation("PutRecord", R"({"Data":")" + big + R"(","PartitionKey":"k"})",
                   "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 "
                   "lim=11010048 cap=11010048]' at 'data' failed to satisfy constraint: Member "
                   "must have length less than or equal to 10485760");
  // A list of scalars reports its entries' constraint once, on the list.
  ExpectValidation("RemoveTagsFromStream", R"({"TagKeys":["a",""]})",
                   "1 validation error detected: Value '[a, ]' at 'tagKeys' failed to satisfy "
                   "constraint: Member must satisfy constraint: [Member must have length less "
                   "than or equal to 128, Member must have length greater than or equal to 1]");
  ExpectValidation("EnableEnhancedMonitoring", R"({"ShardLevelMetrics":[]})",
                   "1 validation error detected: Value '[]' at 'shardLevelMetrics' failed to "
                   "satisfy constraint: Member must have length greater than or equal to 1");
  // Maps: entry count, keys and values.
  ExpectValidation("AddTagsToStream", R"({"Tags":{}})",
                   "1 validation error detected: Value '{}' at 'tags' failed to satisfy "
                   "constraint: Member must have length greater than or equal to 1");
  ExpectValidation("AddTagsToStream", R"({"Tags":{"":"v"}})",
                   "1 validation error detected: Value '{=v}' at 'tags' failed to satisfy "
                   "constraint: Map keys must satisfy constraint: [Member must have length less "
                   "than or equal to 128, Member must have length greater than or equal to 1]");
}

TEST(ModelValidatorTest, LengthCountsUtf16UnitsAsJavaDoes) {
  // 128 snowmen (3 bytes, 1 unit each) fit; 65 emoji (4 bytes, 2 units each) do not.
  std::string snowmen;
  for (int i = 0; i < 128; ++i)
    snowmen += "\xE2\x98\x83";
  ExpectConforms("PutRecord", R"({"Data":"","PartitionKey":")" + snowmen + R"("})");
  std::string emoji;
  for (int i = 0; i < 129; ++i)
    emoji += "\xF0\x9F\x98\x80";
  const Outcome o = Check("PutRecord", R"({"Data":"","PartitionKey":")" + emoji + R"("})");
  EXPECT_EQ(o.type, "ValidationException");
  EXPECT_NE(o.message.find("Member must have length less than or equal to 256"), std::string::npos);
  EXPECT_EQ(model::Utf16Length("a\xE2\x98\x83\xF0\x9F\x98\x80"), 4u);
}

TEST(ModelValidatorTest, SeveralFailuresInNameOrderDepthFirst) {
  ExpectValidation("GetShardIterator",
                   R"({"StreamName":"","ShardIteratorType":"","ShardId":"",)"
                   R"("StartingSequenceNumber":""})",
                   "6 validation errors detected: "
                   "Value '' at 'shardId' failed to satisfy constraint: Member must satisfy "
                   "regular expression pattern: [a-zA-Z0-9_.-]+; "
                   "Value '' at 'shardId' failed to satisfy constraint: Member must have length "
                   "greater than or equal to 1; "
                   "Value '' at 'shardIteratorType' failed to satisfy constraint: Member must "
                   "satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, "
                   "TRIM_HORIZON, LATEST, AT_TIMESTAMP]; "
                   "Value '' at 'startingSequenceNumber' failed to satisfy constraint: Member "
                   "must satisfy regular expression pattern: 0|([1-9]\\d{0,128}); "
                   "Value '' at 'streamName' failed to satisfy constraint: Member must satisfy "
                   "regular expression pattern: [a-zA-Z0-9_.-]+; "
                   "Value '' at 'streamName' failed to satisfy constraint: Member must have "
                   "length greater than or equal to 1");
  // List entries are visited in order, each entry's members by name, before later members.
  ExpectValidation("PutRecords",
                   R"({"StreamName":"bad name","Records":[{"Data":""},)"
                   R"({"PartitionKey":"","Data":"","ExplicitHashKey":"01"}]})",
                   "4 validation errors detected: "
                   "Value null at 'records.1.member.partitionKey' failed to satisfy constraint: "
                   "Member must not be null; "
                   "Value '01' at 'records.2.member.explicitHashKey' failed to satisfy "
                   "constraint: Member must satisfy regular expression pattern: "
                   "0|([1-9]\\d{0,38}); "
                   "Value '' at 'records.2.member.partitionKey' failed to satisfy constraint: "
                   "Member must have length greater than or equal to 1; "
                   "Value 'bad name' at 'streamName' failed to satisfy constraint: Member must "
                   "satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
  // Nested structures name their path with dots.
  ExpectValidation("ListShards", R"({"ShardFilter":{"Type":"NOPE"}})",
                   "1 validation error detected: Value 'NOPE' at 'shardFilter.type' failed to "
                   "satisfy constraint: Member must satisfy enum value set: [AFTER_SHARD_ID, "
                   "AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]");
  ExpectValidation("ListShards", R"({"ShardFilter":{}})",
                   "1 validation error detected: Value null at 'shardFilter.type' failed to "
                   "satisfy constraint: Member must not be null");
}

TEST(ModelValidatorTest, AtMostTenFailuresAreReported) {
  std::string records;
  for (int i = 0; i < 12; ++i)
    records += std::string(i ? "," : "") + R"({"Data":""})";
  const Outcome o = Check("PutRecords", R"({"Records":[)" + records + "]}");
  EXPECT_EQ(o.type, "ValidationException");
  EXPECT_EQ(o.message.substr(0, 30), "10 validation errors detected:");
  EXPECT_NE(o.message.find("records.10.member.partitionKey"), std::string::npos);
  EXPECT_EQ(o.message.find("records.11.member"), std::string::npos);
}

TEST(ModelValidatorTest, NumbersAreTruncatedAndClampedAsJavaIntegers) {
  ExpectConforms("ListStreams", R"({"Limit":1.9})");
  ExpectValidation("ListStreams", R"({"Limit":0.99})",
                   "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                   "constraint: Member must have value greater than or equal to 1");
  ExpectValidation("ListStreams", R"({"Limit":1e30})",
                   "1 validation error detected: Value '2147483647' at 'limit' failed to satisfy "
                   "constraint: Member must have value less than or equal to 10000");
  rapidjson::Document d;
  d.Parse("[-1.5, 9223372036854775807, 18446744073709551615, -1e300]");
  EXPECT_EQ(ModelInteger(d[0], false), -2);
  EXPECT_EQ(ModelInteger(d[1], false), 2147483647);
  EXPECT_EQ(ModelInteger(d[1], true), 9223372036854775807);
  EXPECT_EQ(ModelInteger(d[2], true), 9223372036854775807);
  EXPECT_EQ(ModelInteger(d[3], false), -2147483648);
}

TEST(ModelValidatorTest, OperationsWithoutInputOrUnknownNamesPass) {
  rapidjson::Document doc;
  doc.Parse("{}");
  EXPECT_FALSE(ValidateRequest("NoSuchOperation", doc));
}

// Each hand-written pattern check agrees with the model's regular expression (ECMAScript reads
// these patterns as Java does, apart from the leading ^ which full matching makes moot).
TEST(ModelPatternsTest, AgreeWithTheModelRegexes) {
  std::vector<std::pair<model::Pattern, std::string>> patterns;
  for (const model::Shape& s : model::Shapes()) {
    if (s.pattern != model::Pattern::kNone) patterns.emplace_back(s.pattern, s.pattern_text);
  }
  ASSERT_GE(patterns.size(), 7u);
  const std::vector<std::string> fixed = {
      "",
      "0",
      "01",
      "1234567890123456789012345678901234567890",
      std::string(39, '9'),
      std::string(40, '9'),
      std::string(129, '9'),
      std::string(130, '9'),
      "abc",
      "a b",
      "shardId-000000000001",
      "arn:aws:kinesis:us-east-1:123456789012:stream/s",
      "arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s",
      "arn:aws:kinesis:us-east-1:123456789012:stream/",
      "arn:aws:kinesis:us-east-1:12345678901:stream/s",
      "arn:aws:kinesis:us-east-1:123456789012:stream/s x",
      "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1700000000",
      "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:",
      "arn:aws:kinesis:us-east-1:123456789012:x/stream/s/consumer/c:1",
      "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c c:1",
      "arn:aws:kinesis:r:123456789012:123456789012:stream/a",
      "arn:aws:kinesis::123456789012:stream/a\nb",
      "arn:aws::kinesis:123456789012:stream/a",
      "xarn:aws:kinesis:r:123456789012:stream/a",
      "abcdefghij0123456789-abc",
      "abcdefghij0123456789-ab",
      "ABCDEFGHIJ0123456789-abc",
  };
  std::mt19937 rng(7);
  const std::string alphabet = "arn:awskinesistreamconsumer/0123456789 -_.x\t";
  std::vector<std::string> inputs = fixed;
  for (int n = 0; n < 20000; ++n) {
    // Mutations of the fixed inputs exercise the ARN checks near their boundaries.
    std::string s = fixed[rng() % fixed.size()];
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 3) {
        case 0:
          s.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        case 1:
          if (at < s.size()) s.erase(at, 1);
          break;
        default:
          if (at < s.size()) s[at] = alphabet[rng() % alphabet.size()];
      }
    }
    inputs.push_back(s);
  }
  for (const auto& [id, text] : patterns) {
    const std::regex re(text[0] == '^' ? text.substr(1) : text);
    for (const std::string& s : inputs) {
      EXPECT_EQ(model::MatchesPattern(id, s), std::regex_match(s, re))
          << "pattern " << text << " on '" << s << "'";
    }
  }
}

}  // namespace
}  // namespace tideline::server
