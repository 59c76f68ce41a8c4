// The CBOR protocol codec: requests as the Java SDKs write them become the JSON the handlers
// read, every blob and timestamp member of every output shape goes back as a byte string or a
// tag-1 millisecond count, and no malformed or hostile body gets past DecodeRequest.
#include "cbor_codec.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "api_types.h"
#include "cbor_builder.h"
#include "errors.h"

namespace tideline::server::cbor {
namespace {

using namespace std::string_literals;
using namespace test_cbor;

std::string DecodeOk(const std::string& cbor) {
  Result<std::string> r = DecodeRequest(cbor);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::string();
}
std::string DecodeError(const std::string& cbor, const DecodeLimits& limits = {}) {
  Result<std::string> r = DecodeRequest(cbor, limits);
  EXPECT_FALSE(r.ok()) << "decoded to " << (r.ok() ? r.value() : "");
  if (r.ok()) return {};
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  return r.status().message();
}

TEST(CborDecode, PutRecordsAsTheJavaSdkWritesItBecomesTheHandlersJson) {
  // Jackson's CBORGenerator writes indefinite-length maps and arrays.
  std::string body = kIndefMap + T("Records") + kIndefArray;
  for (int i = 0; i < 2; ++i) {
    body += kIndefMap + T("Data") + B(std::string("\x00\xff", 2) + std::to_string(i)) +
            T("PartitionKey") + T("pk" + std::to_string(i)) + kBreak;
  }
  body += kBreak + T("StreamName") + T("s") + kBreak;
  EXPECT_EQ(DecodeOk(body), R"({"Records":[{"Data":"AP8w","PartitionKey":"pk0"},)"
                            R"({"Data":"AP8x","PartitionKey":"pk1"}],"StreamName":"s"})");
}

TEST(CborDecode, ByteStringsOfEveryPaddingBecomeBase64) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}};
  for (const auto& [raw, b64] : cases) {
    EXPECT_EQ(DecodeOk(M(1) + T("Data") + B(raw)), R"({"Data":")" + b64 + R"("})");
  }
}

TEST(CborDecode, TagOneMillisecondsBecomeEpochSecondsExactly) {
  // Captured from the AWS SDK for Java v2: GetShardIterator AT_TIMESTAMP, tag 1 over millis.
  EXPECT_EQ(DecodeOk(M(1) + T("Timestamp") + Tag(1) + U(1787036486712)),
            R"({"Timestamp":1787036486.712})");
  EXPECT_EQ(DecodeOk(M(1) + T("Timestamp") + Tag(1) + U(5)), R"({"Timestamp":0.005})");
  EXPECT_EQ(DecodeOk(M(1) + T("Timestamp") + Tag(1) + N(1499)), R"({"Timestamp":-1.500})");
  // A float under tag 1 is milliseconds too.
  EXPECT_EQ(DecodeOk(M(1) + T("Timestamp") + Tag(1) + "\xfb\x40\x9f\x40\x00\x00\x00\x00\x00"s),
            R"({"Timestamp":2.0})");
  // Other tags carry nothing the API reads and are transparent.
  EXPECT_EQ(DecodeOk(M(1) + T("Limit") + Tag(55799) + U(7)), R"({"Limit":7})");
}

TEST(CborDecode, ScalarsMapOneToOne) {
  EXPECT_EQ(DecodeOk(A(7) + U(0) + U(23) + U(24) + U(UINT64_MAX) + N(0) + kTrue + kNull),
            "[0,23,24,18446744073709551615,-1,true,null]");
  EXPECT_EQ(DecodeOk(A(2) + N(INT64_MAX) + "\xf9\x3c\x00"s), "[-9223372036854775808,1.0]");
  EXPECT_EQ(DecodeOk(A(1) + "\xfa\x3f\xc0\x00\x00"s), "[1.5]");
  EXPECT_EQ(DecodeOk(M(1) + T("k\"\\\n") + T("\xc3\xa9")), "{\"k\\\"\\\\\\n\":\"\xc3\xa9\"}");
}

TEST(CborDecode, IndefiniteLengthStringsJoinTheirChunks) {
  EXPECT_EQ(
      DecodeOk(M(1) + "\x7f" + T("Str") + T("eam") + kBreak + "\x5f" + B("fo") + B("o") + kBreak),
      R"({"Stream":"Zm9v"})");
  EXPECT_EQ(DecodeOk(A(1) + "\x5f" + kBreak), R"([""])");
}

TEST(CborDecode, EmptyContainersOfBothLengthForms) {
  EXPECT_EQ(DecodeOk(M(0)), "{}");
  EXPECT_EQ(DecodeOk(kIndefMap + kBreak), "{}");
  EXPECT_EQ(DecodeOk(M(2) + T("a") + A(0) + T("b") + kIndefArray + kBreak), R"({"a":[],"b":[]})");
}

TEST(CborDecode, RefusesMalformedAndTruncatedInput) {
  EXPECT_NE(DecodeError("").find("empty"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a")).find("truncated"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a") + T("bcd").substr(0, 2)).find("truncated"),
            std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a") + U(1) + U(2)).find("trailing"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a") + "\x1c").find("malformed"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a") + "\xf0").find("byte 3"), std::string::npos);
  EXPECT_NE(DecodeError(kIndefMap + T("a") + kBreak).find("key and no value"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a") + kBreak).find("break"), std::string::npos);
  EXPECT_NE(DecodeError(kBreak).find("break"), std::string::npos);
}

TEST(CborDecode, RefusesMapKeysThatAreNotTextStrings) {
  EXPECT_NE(DecodeError(M(1) + U(1) + U(2)).find("map key"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + B("a") + U(2)).find("map key"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + M(0) + U(2)).find("map key"), std::string::npos);
  EXPECT_NE(DecodeError(kIndefMap + A(0) + U(2) + kBreak).find("map key"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + kNull + U(2)).find("map key"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + Tag(1) + T("a") + U(2)).find("tagged map key"), std::string::npos);
}

TEST(CborDecode, RefusesValuesJsonCannotCarry) {
  EXPECT_NE(DecodeError(A(1) + "\xfb\x7f\xf8\x00\x00\x00\x00\x00\x00"s).find("NaN"),
            std::string::npos);
  EXPECT_NE(DecodeError(A(1) + "\xf9\x7c\x00"s).find("infinity"), std::string::npos);
  EXPECT_NE(DecodeError(A(1) + "\xf7").find("undefined"), std::string::npos);
  EXPECT_NE(DecodeError(A(1) + N(uint64_t{INT64_MAX} + 1)).find("-2^63"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("a") + T("\xc0\xaf")).find("UTF-8"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("\xed\xa0\x80") + U(1)).find("UTF-8"), std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("Timestamp") + Tag(1) + T("2024")).find("tag 1"),
            std::string::npos);
  EXPECT_NE(DecodeError(M(1) + T("Timestamp") + Tag(1) + Tag(1) + U(1)).find("tag 1"),
            std::string::npos);
  EXPECT_NE(DecodeError(A(1) + Tag(1) + kNull).find("tag 1"), std::string::npos);
}

TEST(CborDecode, RefusesBrokenIndefiniteLengthStrings) {
  EXPECT_NE(DecodeError(A(1) + "\x5f" + T("a") + kBreak).find("other string type"),
            std::string::npos);
  EXPECT_NE(DecodeError(A(1) + "\x7f" + U(1) + kBreak).find("non-string chunk"), std::string::npos);
  EXPECT_NE(DecodeError(A(1) + "\x7f\x7f" + kBreak + kBreak).find("itself indefinite"),
            std::string::npos);
  EXPECT_NE(DecodeError(A(1) + "\x7f" + Tag(1) + T("a") + kBreak).find("tag inside"),
            std::string::npos);
  EXPECT_NE(DecodeError(A(1) + "\x7f" + T("a")).find("truncated"), std::string::npos);
}

TEST(CborDecode, DeclaredLengthsBeyondTheBodyAreRefusedBeforeAnyAllocation) {
  // Byte and text strings of 2^64-1 and 2^32-1 bytes, and arrays and maps of as many items:
  // a decoder that trusted the head would try to allocate it.
  for (const std::string head : {"\x5b", "\x7b", "\x9b", "\xbb"}) {
    const std::string body = head + std::string(8, '\xff') + "abc";
    EXPECT_FALSE(DecodeRequest(body).ok()) << static_cast<int>(head[0]);
  }
  EXPECT_NE(DecodeError(B("") + "\x5a\xff\xff\xff\xff").find("trailing"), std::string::npos);
  EXPECT_NE(DecodeError("\x5a\xff\xff\xff\xff"
                        "abc")
                .find("beyond the body"),
            std::string::npos);
  EXPECT_NE(DecodeError("\x9a\xff\xff\xff\xff" + U(1)).find("beyond the body"), std::string::npos);
  // A map of n pairs needs 2n items: three pairs in five bytes cannot be.
  EXPECT_NE(DecodeError(M(3) + U(1) + U(2) + U(3) + U(4) + U(5)).find("beyond the body"),
            std::string::npos);
}

TEST(CborDecode, NestingBombsStopAtTheDepthLimit) {
  std::string ok;
  for (int i = 0; i < 16; ++i)
    ok += A(1);
  EXPECT_EQ(DecodeOk(ok + U(1)), std::string(16, '[') + "1" + std::string(16, ']'));
  EXPECT_NE(DecodeError(A(1) + ok + U(1)).find("nesting deeper than 16"), std::string::npos);
  // 100,000 indefinite arrays and maps: refused at level 17, whatever follows.
  EXPECT_NE(DecodeError(std::string(100000, '\x9f')).find("nesting"), std::string::npos);
  std::string maps;
  for (int i = 0; i < 50000; ++i)
    maps += kIndefMap + T("a");
  EXPECT_NE(DecodeError(maps).find("nesting"), std::string::npos);
  // Tag chains are not nesting, but end in something, or the body is truncated.
  std::string tags;
  for (int i = 0; i < 10000; ++i)
    tags += Tag(55799);
  EXPECT_EQ(DecodeOk(tags + U(1)), "1");
  EXPECT_NE(DecodeError(tags).find("truncated"), std::string::npos);
}

TEST(CborDecode, ValueCountIsBounded) {
  const DecodeLimits limits{.max_depth = 16, .max_values = 10};
  std::string ten = A(9);
  for (int i = 0; i < 9; ++i)
    ten += U(1);
  EXPECT_TRUE(DecodeRequest(ten, limits).ok());
  std::string eleven = A(10);
  for (int i = 0; i < 10; ++i)
    eleven += U(1);
  EXPECT_NE(DecodeError(eleven, limits).find("more than 10 values"), std::string::npos);
}

TEST(CborContentType, MatchesTheProtocolsMediaTypeOnly) {
  EXPECT_TRUE(IsCborContentType("application/x-amz-cbor-1.1"));
  EXPECT_TRUE(IsCborContentType("application/x-amz-cbor-1.1; charset=utf-8"));
  EXPECT_FALSE(IsCborContentType("application/x-amz-json-1.1"));
  EXPECT_FALSE(IsCborContentType("application/x-amz-cbor-1.10"));
  EXPECT_FALSE(IsCborContentType(""));
}

// ---- Encoding ----

std::string EncodeOk(std::string_view operation, std::string_view json) {
  Result<std::string> r = EncodeResponse(operation, json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? r.value() : std::string();
}

TEST(CborEncode, GetRecordsDataIsABytesStringAndArrivalTimeTagOneMillis) {
  const std::string json =
      R"({"Records":[{"SequenceNumber":"49","ApproximateArrivalTimestamp":1700000000.123,)"
      R"("Data":"AP8=","PartitionKey":"k"}],"NextShardIterator":"it","MillisBehindLatest":0})";
  const std::string expected = M(3) + T("Records") + A(1) + M(4) + T("SequenceNumber") + T("49") +
                               T("ApproximateArrivalTimestamp") + Tag(1) + U(1700000000123) +
                               T("Data") + B(std::string("\x00\xff", 2)) + T("PartitionKey") +
                               T("k") + T("NextShardIterator") + T("it") + T("MillisBehindLatest") +
                               U(0);
  EXPECT_EQ(EncodeOk("GetRecords", json), expected);
  // The same document under another operation's shape keeps text and numbers.
  const std::string plain = EncodeOk("PutRecord", json);
  EXPECT_EQ(plain.find(B(std::string("\x00\xff", 2))), std::string::npos);
  EXPECT_NE(plain.find(T("AP8=")), std::string::npos);
  EXPECT_EQ(plain.find(Tag(1)), std::string::npos);
}

TEST(CborEncode, NumbersKeepTheirTypes) {
  EXPECT_EQ(EncodeOk("", R"([0,-1,-9223372036854775808,18446744073709551615,1.5,true,null])"),
            A(7) + U(0) + N(0) + N(INT64_MAX) + U(UINT64_MAX) + "\xfb\x3f\xf8" +
                std::string(6, '\0') + kTrue + kNull);
  // Timestamps of every form the writer produces, exactly: no float rounding.
  EXPECT_EQ(EncodeOk("DescribeStreamSummary",
                     R"({"StreamDescriptionSummary":{"StreamCreationTimestamp":1700000000.999}})"),
            M(1) + T("StreamDescriptionSummary") + M(1) + T("StreamCreationTimestamp") + Tag(1) +
                U(1700000000999));
  EXPECT_EQ(EncodeOk("DescribeStreamSummary",
                     R"({"StreamDescriptionSummary":{"StreamCreationTimestamp":-2}})"),
            M(1) + T("StreamDescriptionSummary") + M(1) + T("StreamCreationTimestamp") + Tag(1) +
                N(1999));
}

TEST(CborEncode, ErrorsAreATypeAndMessageMapWithTheCborContentType) {
  const ApiResponse json_error = MakeError(ApiErrorType::kResourceNotFound, "Stream s not found.");
  const ApiResponse r = ToCborResponse("DescribeStream", json_error);
  EXPECT_EQ(r.status, 400u);
  EXPECT_EQ(r.error_type, "ResourceNotFoundException");
  EXPECT_EQ(r.content_type, "application/x-amz-cbor-1.1");
  EXPECT_EQ(r.body, M(2) + T("__type") + T("ResourceNotFoundException") + T("message") +
                        T("Stream s not found."));
  ApiResponse ok;
  ok.body = "{}";
  ok.records = 3;
  const ApiResponse empty = ToCborResponse("DeleteStream", ok);
  EXPECT_EQ(empty.body, M(0));
  EXPECT_EQ(empty.status, 200u);
  EXPECT_EQ(empty.records, 3u);
}

TEST(CborEncode, ABodyThatDoesNotFitItsShapeBecomesAnInternalFailure) {
  ApiResponse bad;
  bad.body = R"({"Records":[{"Data":"not base64!"}]})";
  const ApiResponse r = ToCborResponse("GetRecords", bad);
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.error_type, "InternalFailure");
  EXPECT_EQ(r.content_type, "application/x-amz-cbor-1.1");
  EXPECT_EQ(r.body.substr(0, 1 + 7), M(2) + T("__type"));
  EXPECT_FALSE(EncodeResponse("", "{").ok());
}

// Every blob and timestamp member of the generated table, each alone in a document built from
// its path: encoded as a byte string or tag 1 over milliseconds, and decoded back to the JSON.
enum class MemberKind { kOther, kBlob, kTimestamp };
struct Row {
  std::string_view operation;
  std::string_view path;
  MemberKind kind;
};
constexpr Row kRows[] = {
#include "cbor_shapes.inc"
};

std::string DocumentAt(std::string_view path, std::string_view value) {
  const size_t dot = path.find('.');
  const std::string_view name = path.substr(0, dot);
  const std::string inner =
      dot == std::string_view::npos ? std::string(value) : DocumentAt(path.substr(dot + 1), value);
  if (name == "[]") return "[" + inner + "]";
  return "{\"" + std::string(name == "{}" ? "key" : name) + "\":" + inner + "}";
}

TEST(CborEncode, EveryBlobAndTimestampMemberOfTheModel) {
  ASSERT_GE(std::size(kRows), 5u);
  for (const Row& row : kRows) {
    SCOPED_TRACE(std::string(row.operation) + " " + std::string(row.path));
    const bool blob = row.kind == MemberKind::kBlob;
    const std::string json = DocumentAt(row.path, blob ? R"("AAEC/w==")" : "1700000000.123");
    const std::string cbor = EncodeOk(row.operation, json);
    EXPECT_NE(cbor.find(blob ? B(std::string("\x00\x01\x02\xff", 4)) : Tag(1) + U(1700000000123)),
              std::string::npos);
    EXPECT_EQ(DecodeOk(cbor), json);
  }
}

TEST(CborRoundTrip, RequestsSurviveEncodeAndDecode) {
  const std::string json =
      R"({"StreamName":"s","Records":[{"Data":"AAEC","PartitionKey":"p","ExplicitHashKey":"1"}],)"
      R"("Nested":{"a":[1,-2,3.25,true,null,"x"]}})";
  EXPECT_EQ(DecodeOk(EncodeOk("", json)), json);
}

}  // namespace
}  // namespace tideline::server::cbor
