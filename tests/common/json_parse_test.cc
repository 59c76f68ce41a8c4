#include "common/json_parse.h"

#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace tideline::json {
namespace {

std::optional<std::string> Parse(std::string_view text, const Limits& limits = {}) {
  rapidjson::Document doc;
  return ParseJson(doc, text, limits);
}

std::string Nested(size_t depth, char open = '[', char close = ']') {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(JsonParse, ParsesDocumentsWithinTheLimits) {
  rapidjson::Document doc;
  ASSERT_EQ(ParseJson(doc, R"( {"a":[1,2.5,"x",null,true],"b":{"c":-3}} )", {}), std::nullopt);
  ASSERT_TRUE(doc.IsObject());
  EXPECT_EQ(doc["a"].Size(), 5u);
  EXPECT_EQ(doc["b"]["c"].GetInt(), -3);
  EXPECT_EQ(Parse(Nested(100)), std::nullopt);  // the default depth, exactly
}

TEST(JsonParse, AMillionLevelsOfNestingIsAnErrorNotACrash) {
  const std::string deep = Nested(1'000'000);
  const auto error = Parse(deep);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(*error, "JSON nested deeper than 100 levels at offset 100");
  // Objects count as well as arrays, and unclosed nesting fails the same way.
  EXPECT_EQ(*Parse(std::string(1'000'000, '[')),
            "JSON nested deeper than 100 levels at offset 100");
  std::string objects;
  for (int i = 0; i < 200'000; ++i)
    objects += R"({"a":)";
  EXPECT_EQ(Parse(objects, {.max_depth = 3}), "JSON nested deeper than 3 levels at offset 15");
  EXPECT_EQ(Parse(Nested(101)), "JSON nested deeper than 100 levels at offset 100");
}

TEST(JsonParse, ValueLimitStopsWideDocuments) {
  std::string wide = "[";
  for (int i = 0; i < 20'000; ++i)
    wide += "0,";
  wide += "0]";
  const auto error = Parse(wide, kApiBodyLimits);
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("more than 16384 values"), std::string::npos) << *error;
  EXPECT_EQ(Parse(wide), std::nullopt);  // no value limit by default
}

TEST(JsonParse, StrictUtf8InRawBytesAndInEscapes) {
  EXPECT_EQ(Parse("\"caf\xC3\xA9\""), std::nullopt);
  EXPECT_EQ(Parse(R"("\ud83d\ude00")"), std::nullopt);  // a surrogate pair is one code point
  EXPECT_TRUE(Parse("\"\xFF\"").has_value());
  EXPECT_TRUE(Parse("\"\xED\xA0\x80\"").has_value());   // raw surrogate bytes
  EXPECT_TRUE(Parse("{\"k\xC0\xAF\":1}").has_value());  // overlong in a key
  // RapidJSON alone decodes a lone low surrogate escape into CESU bytes; we refuse it.
  const auto lone_low = Parse(R"({"a":"\uDC00"})");
  ASSERT_TRUE(lone_low.has_value());
  EXPECT_NE(lone_low->find("Invalid UTF-8"), std::string::npos) << *lone_low;
  EXPECT_TRUE(Parse(R"({"\uDC00":1})").has_value());
  EXPECT_TRUE(Parse(R"("\uD800")").has_value());  // lone high surrogate
}

TEST(JsonParse, ExactlyOneValueWithOnlyWhitespaceAfterIt) {
  EXPECT_EQ(*Parse(""), "Malformed JSON at offset 0: The document is empty.");
  EXPECT_EQ(*Parse("{} {}"),
            "Malformed JSON at offset 3: The document root must not be followed by other values.");
  EXPECT_TRUE(Parse(std::string("{}\0", 3)).has_value());  // a NUL is not an end
  EXPECT_TRUE(Parse(std::string("{\"a\":\"x\0y\"}", 11)).has_value());
  EXPECT_EQ(Parse("{} \r\n\t"), std::nullopt);
}

TEST(JsonParse, NumbersBeyondADoubleAreRefused) {
  EXPECT_EQ(Parse(R"({"a":1.5e308})"), std::nullopt);
  const auto error = Parse(R"({"a":9e308})");
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("Number"), std::string::npos) << *error;
  EXPECT_TRUE(Parse("-1e400").has_value());
  EXPECT_EQ(Parse("1e-400"), std::nullopt);  // underflow is zero, which JSON can write
}

TEST(JsonParse, InsituParsesInPlaceAndSeesPastANul) {
  std::string text = R"({"msg":"hello \"world\"","n":[1,2]})";
  rapidjson::Document doc;
  ASSERT_EQ(ParseJsonInsitu(doc, text, {}), std::nullopt);
  EXPECT_STREQ(doc["msg"].GetString(), "hello \"world\"");
  // The string points into `text`: no copy.
  const char* p = doc["msg"].GetString();
  EXPECT_TRUE(p >= text.data() && p < text.data() + text.size());

  std::string with_nul("{}\0garbage", 10);
  rapidjson::Document doc2;
  EXPECT_TRUE(ParseJsonInsitu(doc2, with_nul, {}).has_value());
  EXPECT_TRUE(doc2.IsNull());

  std::string deep = Nested(1'000'000);
  rapidjson::Document doc3;
  EXPECT_EQ(*ParseJsonInsitu(doc3, deep, {.max_depth = 16}),
            "JSON nested deeper than 16 levels at offset 16");
}

TEST(JsonParse, InsituRefusesBadBytesWithoutReadingPastTheEnd) {
  // A lead byte right before the end is refused from the bytes alone: RapidJSON's own check
  // reads a lead byte's continuation bytes without looking for the end (the fuzz regression
  // kinesis_handlers/insitu-utf8-lead-byte-at-end-heap-overflow read past the buffer).
  for (std::string text : {std::string("{\"Stream\":\"padding\",\"x\":\"\xF0"),
                           std::string("{\"Stream\":\"padding\",\"x\":\"\xE2\x82"),
                           std::string("{\"Stream\":\"padding\",\"x\xC0\xAF\":1}")}) {
    const std::string shown = text;
    rapidjson::Document doc;
    const auto error = ParseJsonInsitu(doc, text, {});
    ASSERT_TRUE(error.has_value()) << shown;
    EXPECT_NE(error->find("Invalid encoding"), std::string::npos) << *error;
  }
  std::string ok = "{\"a\":\"caf\xC3\xA9\"}";
  rapidjson::Document doc;
  EXPECT_EQ(ParseJsonInsitu(doc, ok, {}), std::nullopt);
}

TEST(JsonParse, CheckJsonObjectChecksShapeWithinLimits) {
  EXPECT_EQ(CheckJsonObject(R"( {"a":{"b":[1]}} )", {}), std::nullopt);
  EXPECT_TRUE(CheckJsonObject("[1]", {}).has_value());
  EXPECT_TRUE(CheckJsonObject(R"({"a":1} x)", {}).has_value());
  EXPECT_TRUE(CheckJsonObject("{\"a\":\"\xFF\"}", {}).has_value());
  EXPECT_TRUE(CheckJsonObject(R"({"a":"\uDC00"})", {}).has_value());
  EXPECT_TRUE(CheckJsonObject(R"({"a":9e308})", {}).has_value());
  EXPECT_TRUE(CheckJsonObject("{\"a\":" + Nested(1'000'000) + "}", {}).has_value());
  EXPECT_EQ(CheckJsonObject("{\"a\":" + Nested(99) + "}", {}), std::nullopt);
  EXPECT_TRUE(CheckJsonObject("{\"a\":" + Nested(100) + "}", {}).has_value());
}

}  // namespace
}  // namespace tideline::json
