// The access_log processor (Apache common/combined, Nginx combined -> JSON), its line parser and
// the ISO-8601 formatter it shares with the fields processor.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_format.h"
#include "pipeline/processor.h"
#include "processors/access_log_parser.h"

namespace tideline::pipeline {
namespace {

std::unique_ptr<Processor> MakeProcessor(const AccessLogOptions& options = {}) {
  auto made = MakeAccessLogProcessor(options);
  EXPECT_TRUE(made.ok()) << made.status().ToString();
  return made.ok() ? std::move(made).value() : nullptr;
}

class AccessLogTest : public ::testing::Test {
 protected:
  // A fresh batch; earlier ones (and references into them) stay valid until the test ends.
  RecordBatch& NewBatch() {
    return *batches_.emplace_back(std::make_unique<RecordBatch>(
        StreamName("web"), ShardId("shardId-000000000000"), ShardUid(3)));
  }

  // Adds one record per line to a fresh batch, runs the processor and returns the records.
  std::vector<PipelineRecord>& Run(const std::vector<std::string>& lines,
                                   const AccessLogOptions& options = {}) {
    RecordBatch& batch = NewBatch();
    for (const std::string& line : lines) {
      batch.Add(Offset(batch.records().size() + 1), 1000, "pk", line);
    }
    std::unique_ptr<Processor> processor = MakeProcessor(options);
    if (processor != nullptr) processor->Process(batch);
    return batch.records();
  }

  // The document produced for `line`, or "FAILED: <message>".
  std::string Parse(const std::string& line, const AccessLogOptions& options = {}) {
    PipelineRecord& record = Run({line}, options).back();
    if (!record.ok()) return "FAILED: " + record.error_message;
    EXPECT_NE(record.json, nullptr);
    return std::string(batches_.back()->Bytes(record));
  }

  // The error message for a line that must fail, with the error code checked.
  std::string ParseError(const std::string& line) {
    PipelineRecord& record = Run({line}).back();
    EXPECT_EQ(record.result, RecordResult::kProcessingFailed) << line;
    EXPECT_EQ(record.error_code, "AccessLog.ParseFailed");
    EXPECT_EQ(record.json, nullptr) << "a failed record keeps its bytes";
    EXPECT_EQ(record.data, record.raw);
    return record.error_message;
  }

  std::vector<std::unique_ptr<RecordBatch>> batches_;
};

// ---- Formats, with the exact document.

TEST_F(AccessLogTest, ParsesApacheCommonLine) {
  EXPECT_EQ(
      Parse(
          R"(127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326)"),
      R"({"client_ip":"127.0.0.1","user":"frank","@timestamp":"2000-10-10T20:55:36.000Z",)"
      R"("method":"GET","path":"/apache_pb.gif","protocol":"HTTP/1.0","status":200,)"
      R"("bytes":2326})");
}

TEST_F(AccessLogTest, ParsesApacheCombinedLine) {
  EXPECT_EQ(
      Parse(
          R"x(192.168.2.20 ident7 frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)")x"),
      R"({"client_ip":"192.168.2.20","ident":"ident7","user":"frank",)"
      R"("@timestamp":"2000-10-10T20:55:36.000Z","method":"GET","path":"/apache_pb.gif",)"
      R"("protocol":"HTTP/1.0","status":200,"bytes":2326,)"
      R"("referrer":"http://www.example.com/start.html",)"
      R"x("user_agent":"Mozilla/4.08 [en] (Win98; I ;Nav)"})x");
}

TEST_F(AccessLogTest, ParsesNginxCombinedLineWithIpv6Client) {
  EXPECT_EQ(
      Parse(
          R"(2001:db8:85a3::8a2e:370:7334 - - [30/Nov/2026:13:55:36 +0000] "POST /api/v1/orders?id=42&x=%20y HTTP/2.0" 201 512 "-" "curl/8.5.0")"),
      R"({"client_ip":"2001:db8:85a3::8a2e:370:7334","@timestamp":"2026-11-30T13:55:36.000Z",)"
      R"("method":"POST","path":"/api/v1/orders?id=42&x=%20y","protocol":"HTTP/2.0",)"
      R"("status":201,"bytes":512,"user_agent":"curl/8.5.0"})");
}

TEST_F(AccessLogTest, ParsesIpv4MappedIpv6AndLoopbackClients) {
  EXPECT_EQ(Parse(R"(::ffff:10.1.2.3 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 204 0)"),
            R"({"client_ip":"::ffff:10.1.2.3","@timestamp":"2026-01-01T00:00:00.000Z",)"
            R"("method":"GET","path":"/","protocol":"HTTP/1.1","status":204,"bytes":0})");
  EXPECT_EQ(Parse(R"(::1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 204 0)"),
            R"({"client_ip":"::1","@timestamp":"2026-01-01T00:00:00.000Z",)"
            R"("method":"GET","path":"/","protocol":"HTTP/1.1","status":204,"bytes":0})");
}

TEST_F(AccessLogTest, DashBytesIsZeroAndDashFieldsAreLeftOut) {
  EXPECT_EQ(Parse(R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 304 - "-" "-")"),
            R"({"client_ip":"10.0.0.1","@timestamp":"2000-10-10T13:55:36.000Z","method":"GET",)"
            R"("path":"/x","protocol":"HTTP/1.1","status":304,"bytes":0})");
}

TEST_F(AccessLogTest, RequestThatIsJustDashHasNoRequestFields) {
  EXPECT_EQ(Parse(R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "-" 408 0 "-" "-")"),
            R"({"client_ip":"10.0.0.1","@timestamp":"2000-10-10T13:55:36.000Z",)"
            R"("status":408,"bytes":0})");
  EXPECT_EQ(Parse(R"(10.0.0.1 - - [10/Oct/2000:13:55:36 +0000] "" 400 0 "-" "-")"),
            R"({"client_ip":"10.0.0.1","@timestamp":"2000-10-10T13:55:36.000Z",)"
            R"("status":400,"bytes":0})");
}

TEST_F(AccessLogTest, ScannerGarbageRequestIsKeptWholeInRequestField) {
  // Nginx logs a TLS ClientHello sent to its HTTP port with \xHH escapes.
  EXPECT_EQ(
      Parse(
          R"(45.9.20.1 - - [10/Oct/2000:13:55:36 +0000] "\x16\x03\x01\x00\xA5\x01\x00" 400 157 "-" "-")"),
      R"({"client_ip":"45.9.20.1","@timestamp":"2000-10-10T13:55:36.000Z",)"
      R"("request":"\\x16\\x03\\x01\\x00\\xA5\\x01\\x00","status":400,"bytes":157})");
  EXPECT_EQ(Parse(R"(45.9.20.1 - - [10/Oct/2000:13:55:36 +0000] "hello" 400 0)"),
            R"({"client_ip":"45.9.20.1","@timestamp":"2000-10-10T13:55:36.000Z",)"
            R"("request":"hello","status":400,"bytes":0})");
  // Lower-case method and a target with spaces but no protocol are not request lines.
  EXPECT_NE(Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "get / HTTP/1.1" 400 0)")
                .find(R"("request":"get / HTTP/1.1")"),
            std::string::npos);
  EXPECT_NE(Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a b" 400 0)")
                .find(R"("request":"GET /a b")"),
            std::string::npos);
}

TEST_F(AccessLogTest, Http09RequestHasNoProtocol) {
  EXPECT_EQ(Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /old" 200 10)"),
            R"({"client_ip":"1.2.3.4","@timestamp":"2000-10-10T13:55:36.000Z","method":"GET",)"
            R"("path":"/old","status":200,"bytes":10})");
}

TEST_F(AccessLogTest, PathWithSpacesKeepsThemBetweenMethodAndProtocol) {
  EXPECT_NE(Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /my file.txt HTTP/1.1" 400 0)")
                .find(R"("method":"GET","path":"/my file.txt","protocol":"HTTP/1.1")"),
            std::string::npos);
}

TEST_F(AccessLogTest, ExtendedMethodsAreSplit) {
  EXPECT_NE(Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "M-SEARCH * HTTP/1.1" 400 0)")
                .find(R"("method":"M-SEARCH","path":"*","protocol":"HTTP/1.1")"),
            std::string::npos);
}

// ---- Escapes and bytes.

TEST_F(AccessLogTest, DecodesApacheEscapedQuotesAndBackslashes) {
  const std::string doc = Parse(
      R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /q?s=\"x\" HTTP/1.1" 200 5 "-" "Agent \"quoted\" C:\\dir\\")");
  EXPECT_NE(doc.find(R"("path":"/q?s=\"x\"")"), std::string::npos) << doc;
  EXPECT_NE(doc.find(R"("user_agent":"Agent \"quoted\" C:\\dir\\")"), std::string::npos) << doc;
}

TEST_F(AccessLogTest, DecodesNginxHexEscapesOfPrintableCharactersOnly) {
  const std::string doc = Parse(
      R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "say \x22hi\x22 \x5C \x0A \xC3")");
  // \x22 and \x5C are " and \; a control byte and a non-ASCII byte stay as written.
  EXPECT_NE(doc.find(R"("user_agent":"say \"hi\" \\ \\x0A \\xC3")"), std::string::npos) << doc;
}

TEST_F(AccessLogTest, QuoteInsideFieldNotFollowedBySpaceDoesNotEndIt) {
  // Old Apache versions logged quotes unescaped.
  const std::string doc = Parse(
      R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 5 "-" "Mozilla "compatible"")");
  EXPECT_NE(doc.find(R"("user_agent":"Mozilla \"compatible\""})"), std::string::npos) << doc;
}

TEST_F(AccessLogTest, KeepsValidUtf8AndSpellsInvalidBytesAsHex) {
  const std::string doc = Parse(
      "1.2.3.4 - j\xc3\xa9r\xc3\xb4me [10/Oct/2000:13:55:36 +0000] \"GET /caf\xc3\xa9 HTTP/1.1\" "
      "200 "
      "5 \"-\" \"bad \xff\xc3 end\"");
  EXPECT_NE(doc.find("\"user\":\"j\xc3\xa9r\xc3\xb4me\""), std::string::npos) << doc;
  EXPECT_NE(doc.find("\"path\":\"/caf\xc3\xa9\""), std::string::npos) << doc;
  EXPECT_NE(doc.find(R"("user_agent":"bad \\xff\\xc3 end")"), std::string::npos) << doc;
}

TEST_F(AccessLogTest, IgnoresTrailingWhitespaceAndCarriageReturn) {
  const std::string expected =
      R"({"client_ip":"1.2.3.4","@timestamp":"2000-10-10T13:55:36.000Z","method":"GET",)"
      R"("path":"/","protocol":"HTTP/1.1","status":200,"bytes":1,"user_agent":"ua"})";
  const std::string line =
      R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua")";
  EXPECT_EQ(Parse(line + "\r\n"), expected);
  EXPECT_EQ(Parse(line + " \t \n"), expected);
}

TEST_F(AccessLogTest, IgnoresExtraFieldsAfterTheUserAgent) {
  // Nginx `main` appends "$http_x_forwarded_for"; others append timings.
  EXPECT_EQ(
      Parse(
          R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" "203.0.113.9, 10.0.0.1" rt=0.002 uct="0.000")"),
      R"({"client_ip":"1.2.3.4","@timestamp":"2000-10-10T13:55:36.000Z","method":"GET",)"
      R"("path":"/","protocol":"HTTP/1.1","status":200,"bytes":1,"user_agent":"ua"})");
}

TEST_F(AccessLogTest, IgnoresExtraUnquotedFieldsAfterBytesOfCommonLine) {
  EXPECT_EQ(Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 5123)"),
            R"({"client_ip":"1.2.3.4","@timestamp":"2000-10-10T13:55:36.000Z","method":"GET",)"
            R"("path":"/","protocol":"HTTP/1.1","status":200,"bytes":1})");
}

TEST_F(AccessLogTest, LargestBytesValueIsExact) {
  EXPECT_NE(
      Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 9999999999999999999)")
          .find(R"("bytes":9999999999999999999})"),
      std::string::npos);
}

// ---- Time zones and the calendar.

struct TimestampCase {
  const char* logged;
  const char* utc;
};

TEST_F(AccessLogTest, ConvertsZoneOffsetsAcrossDayMonthAndYearBoundaries) {
  const TimestampCase cases[] = {
      {"31/Dec/2025:23:30:00 -0100", "2026-01-01T00:30:00.000Z"},  // forward into a new year
      {"01/Jan/2026:00:15:00 +0530", "2025-12-31T18:45:00.000Z"},  // back into the old year
      {"28/Feb/2024:23:00:00 -0200", "2024-02-29T01:00:00.000Z"},  // leap day
      {"28/Feb/2023:23:00:00 -0200", "2023-03-01T01:00:00.000Z"},  // no leap day
      {"01/Mar/2023:01:00:00 +0200", "2023-02-28T23:00:00.000Z"},  // back across February
      {"30/Apr/2026:20:00:00 -0545", "2026-05-01T01:45:00.000Z"},  // odd minutes (Nepal-like)
      {"01/Jan/2026:09:59:59 +1400", "2025-12-31T19:59:59.000Z"},  // Kiribati
      {"29/Feb/2000:12:00:00 +0000", "2000-02-29T12:00:00.000Z"},  // 400-year leap
      {"10/Oct/2000:13:55:36.123456 -0700", "2000-10-10T20:55:36.123Z"},  // fraction
      {"10/Oct/2000:13:55:36.5 -0700", "2000-10-10T20:55:36.500Z"},
      {"01/Jan/1970:00:00:00 +0100", "1969-12-31T23:00:00.000Z"},  // before the epoch
  };
  for (const TimestampCase& c : cases) {
    const std::string doc =
        Parse(std::string("1.2.3.4 - - [") + c.logged + "] \"GET / HTTP/1.1\" 200 1");
    EXPECT_NE(doc.find(std::string("\"@timestamp\":\"") + c.utc + "\""), std::string::npos)
        << c.logged << " -> " << doc;
  }
}

// ---- Lines that fail.

TEST_F(AccessLogTest, EmptyAndBlankLinesFail) {
  EXPECT_EQ(ParseError(""), "not an access-log line: empty line at byte 0 (end of line)");
  EXPECT_NE(ParseError(" \t\r\n").find("empty line"), std::string::npos);
}

TEST_F(AccessLogTest, TruncatedLinesFailNamingWhatIsMissing) {
  const std::string full =
      R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1 "http://r/" "ua")";
  EXPECT_NE(ParseError("1.2.3.4").find("missing the ident field"), std::string::npos);
  EXPECT_NE(ParseError("1.2.3.4 - -").find("missing the timestamp"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 30)).find("truncated timestamp"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 41)).find("missing the quoted request"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 50)).find("unterminated quoted request"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 58)).find("missing the status"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 61)).find("missing the bytes field"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 70)).find("unterminated quoted referrer"), std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, 76)).find("missing the quoted user agent"),
            std::string::npos);
  EXPECT_NE(ParseError(full.substr(0, full.size() - 1)).find("unterminated quoted user agent"),
            std::string::npos);
}

TEST_F(AccessLogTest, BadTimestampsFailWithTheFieldThatIsWrong) {
  const auto line = [](const std::string& ts) {
    return "1.2.3.4 - - [" + ts + "] \"GET / HTTP/1.1\" 200 1";
  };
  EXPECT_EQ(ParseError(line("10/Foo/2000:13:55:36 -0700")),
            "not an access-log line: bad month in the timestamp at byte 16 near "
            "'Foo/2000:13:55:36 -0700]'...");
  EXPECT_NE(ParseError(line("10/oct/2000:13:55:36 -0700")).find("bad month"), std::string::npos);
  EXPECT_NE(ParseError(line("1/Oct/2000:13:55:36 -0700")).find("bad day"), std::string::npos);
  EXPECT_NE(ParseError(line("29/Feb/2023:13:55:36 -0700")).find("day out of range"),
            std::string::npos);
  EXPECT_NE(ParseError(line("31/Apr/2023:13:55:36 -0700")).find("day out of range"),
            std::string::npos);
  EXPECT_NE(ParseError(line("00/Apr/2023:13:55:36 -0700")).find("day out of range"),
            std::string::npos);
  EXPECT_NE(ParseError(line("10/Oct/20x0:13:55:36 -0700")).find("bad year"), std::string::npos);
  EXPECT_NE(ParseError(line("10/Oct/2000:24:00:00 -0700")).find("bad time of day"),
            std::string::npos);
  EXPECT_NE(ParseError(line("10/Oct/2000:13:60:00 -0700")).find("bad time of day"),
            std::string::npos);
  EXPECT_NE(ParseError(line("10/Oct/2000:13:55:36 0700")).find("bad zone offset"),
            std::string::npos);
  EXPECT_NE(ParseError(line("10/Oct/2000:13:55:36 +07:00")).find("bad zone offset"),
            std::string::npos);
  EXPECT_NE(ParseError(line("10/Oct/2000:13:55:36. -0700")).find("bad fraction"),
            std::string::npos);
  EXPECT_NE(ParseError("1.2.3.4 - - [10/Oct/2000:13:55:36 -0700 \"GET / HTTP/1.1\" 200 1")
                .find("does not end with ']'"),
            std::string::npos);
  EXPECT_NE(ParseError(line("31/Dec/9999:23:00:00 -0100")).find("outside years 0000-9999"),
            std::string::npos);
  EXPECT_NE(ParseError("1.2.3.4 - - 10/Oct/2000:13:55:36 -0700 \"GET / HTTP/1.1\" 200 1")
                .find("timestamp does not start with '['"),
            std::string::npos);
}

TEST_F(AccessLogTest, BadStatusOrBytesFails) {
  const std::string head = R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" )";
  EXPECT_EQ(ParseError(head + "abc 1"),
            "not an access-log line: status is not a 3-digit number at byte 58 near 'abc 1'");
  EXPECT_NE(ParseError(head + "2000 1").find("status is not a 3-digit number"), std::string::npos);
  EXPECT_NE(ParseError(head + "20 1").find("status is not a 3-digit number"), std::string::npos);
  EXPECT_NE(ParseError(head + "200 12k").find("bytes is neither '-' nor a number"),
            std::string::npos);
  EXPECT_NE(ParseError(head + "200 99999999999999999999").find("bytes is too large"),
            std::string::npos);
}

TEST_F(AccessLogTest, GarbageAndOtherFormatsFail) {
  EXPECT_NE(ParseError(std::string("\x00\x01\x02\xff garbage", 12)).find("at byte"),
            std::string::npos);
  EXPECT_NE(ParseError(R"({"client_ip":"1.2.3.4","status":200})").find("missing"),
            std::string::npos);
  // Apache's vhost_combined puts the virtual host first: the fields do not line up.
  EXPECT_NE(
      ParseError(
          R"(www.example.com:80 1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)")
          .find("timestamp does not start with '['"),
      std::string::npos);
}

TEST_F(AccessLogTest, ErrorMessageShowsNonPrintableBytesAsHex) {
  EXPECT_EQ(ParseError(std::string("1.2.3.4 - - \x01\x7f\n[", 16)),
            "not an access-log line: timestamp does not start with '[' at byte 12 near "
            "'\\x01\\x7f\\x0a['");
}

TEST_F(AccessLogTest, HugeValidLineParsesAndHugeGarbageFailsWithShortMessage) {
  const std::string path = "/" + std::string(1 << 20, 'p');
  const std::string doc = Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET )" + path +
                                R"( HTTP/1.1" 414 0 "-" "ua")");
  EXPECT_NE(doc.find("\"path\":\"" + path + "\""), std::string::npos);

  const std::string message = ParseError(std::string(1 << 20, 'A'));
  EXPECT_NE(message.find("missing the ident field"), std::string::npos);
  EXPECT_LT(message.size(), 200u);
  const std::string unterminated =
      ParseError(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] ")" + std::string(1 << 20, 'x'));
  EXPECT_NE(unterminated.find("unterminated quoted request"), std::string::npos);
  EXPECT_LT(unterminated.size(), 200u);
}

// ---- Batch behaviour and options.

TEST_F(AccessLogTest, FailedLineDoesNotAffectItsNeighbours) {
  const std::string good = R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)";
  std::vector<PipelineRecord>& records = Run({good, "not a log line", good});
  ASSERT_EQ(records.size(), 3u);
  EXPECT_TRUE(records[0].ok());
  EXPECT_NE(records[0].json, nullptr);
  EXPECT_EQ(records[1].result, RecordResult::kProcessingFailed);
  EXPECT_EQ(records[1].data, "not a log line");
  EXPECT_TRUE(records[2].ok());
  EXPECT_NE(records[2].json, nullptr);
}

TEST_F(AccessLogTest, RecordsNotOkAreLeftUntouched) {
  const std::string good = R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)";
  RecordBatch& batch = NewBatch();
  batch.Add(Offset(1), 1, "pk", good);
  batch.Add(Offset(2), 1, "pk", good);
  batch.Add(Offset(3), 1, "pk", "garbage");
  batch.records()[0].result = RecordResult::kDropped;
  RecordBatch::Fail(batch.records()[1], "Lambda.FunctionError", "earlier failure");
  batch.records()[2].result = RecordResult::kDropped;
  MakeProcessor()->Process(batch);
  const std::vector<PipelineRecord>& records = batch.records();
  EXPECT_EQ(records[0].result, RecordResult::kDropped);
  EXPECT_EQ(records[0].json, nullptr);
  EXPECT_EQ(records[0].data, good);
  EXPECT_EQ(records[1].result, RecordResult::kProcessingFailed);
  EXPECT_EQ(records[1].error_code, "Lambda.FunctionError");
  EXPECT_EQ(records[1].error_message, "earlier failure");
  EXPECT_EQ(records[1].json, nullptr);
  EXPECT_EQ(records[2].result, RecordResult::kDropped);
  EXPECT_TRUE(records[2].error_code.empty());
}

TEST_F(AccessLogTest, KeepLineFieldHoldsTheTrimmedLine) {
  const std::string line = R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)";
  AccessLogOptions options;
  options.keep_line_field = "message";
  EXPECT_EQ(Parse(line + "\r\n", options),
            R"({"client_ip":"1.2.3.4","@timestamp":"2000-10-10T13:55:36.000Z","method":"GET",)"
            R"("path":"/","protocol":"HTTP/1.1","status":200,"bytes":1,"message":)"
            R"("1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET / HTTP/1.1\" 200 1"})");
}

TEST_F(AccessLogTest, KeepLineFieldKeepsEscapesAsLogged) {
  AccessLogOptions options;
  options.keep_line_field = "message";
  const std::string doc = Parse(
      R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /?q=\"x\" HTTP/1.1" 200 1 "-" "a\x22b")",
      options);
  EXPECT_NE(doc.find(R"("path":"/?q=\"x\"")"), std::string::npos) << doc;
  EXPECT_NE(doc.find(R"("message":"1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] \"GET /?q=\\\"x\\\" )"
                     R"(HTTP/1.1\" 200 1 \"-\" \"a\\x22b\""})"),
            std::string::npos)
      << doc;
}

TEST_F(AccessLogTest, KeepLineFieldMayBeNestedOrReplaceAParsedField) {
  const std::string line = R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)";
  AccessLogOptions nested;
  nested.keep_line_field = "log.original";
  EXPECT_NE(Parse(line, nested).find(R"("log":{"original":"1.2.3.4 - - [)"), std::string::npos);
  AccessLogOptions replacing;
  replacing.keep_line_field = "path";
  const std::string doc = Parse(line, replacing);
  EXPECT_NE(doc.find(R"("path":"1.2.3.4 - - [)"), std::string::npos) << doc;
  EXPECT_EQ(doc.find("\"path\"", doc.find("\"path\"") + 1), std::string::npos) << "one path";
}

TEST_F(AccessLogTest, NoKeepLineFieldKeepsNoLine) {
  const std::string doc =
      Parse(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET / HTTP/1.1" 200 1)");
  EXPECT_EQ(doc.find("10/Oct/2000"), std::string::npos);
}

TEST(AccessLogFactoryTest, RejectsKeepLineFieldWithEmptySegment) {
  for (const char* bad : {"a..b", ".a", "a."}) {
    AccessLogOptions options;
    options.keep_line_field = bad;
    auto made = MakeAccessLogProcessor(options);
    ASSERT_FALSE(made.ok()) << bad;
    EXPECT_EQ(made.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(made.status().message().find("keep_line_field"), std::string::npos);
  }
}

TEST(AccessLogFactoryTest, TypeIsAccessLog) {
  auto made = MakeAccessLogProcessor({});
  ASSERT_TRUE(made.ok());
  EXPECT_EQ((*made)->type(), "access_log");
}

// ---- The parser and the formatter on their own.

TEST(AccessLogParserTest, ReportsByteOffsetOfTheProblem) {
  AccessLogLine line;
  AccessLogParseError error;
  ASSERT_FALSE(
      ParseAccessLogLine(R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /" x 1)", line, error));
  EXPECT_STREQ(error.what, "status is not a 3-digit number");
  EXPECT_EQ(error.offset, 49u);
}

TEST(AccessLogParserTest, ViewsPointIntoTheLine) {
  const std::string text = R"(1.2.3.4 - - [10/Oct/2000:13:55:36 +0000] "GET /a HTTP/1.1" 200 1)";
  AccessLogLine line;
  AccessLogParseError error;
  ASSERT_TRUE(ParseAccessLogLine(text, line, error));
  EXPECT_EQ(line.target.data(), text.data() + text.find("/a"));
  EXPECT_EQ(line.client_ip.data(), text.data());
  EXPECT_FALSE(line.combined);
}

TEST(TimeFormatTest, FormatsEpochAndInstantsAroundIt) {
  char out[kIso8601MillisLength];
  ASSERT_TRUE(FormatIso8601Millis(0, out));
  EXPECT_EQ(std::string_view(out, sizeof(out)), "1970-01-01T00:00:00.000Z");
  ASSERT_TRUE(FormatIso8601Millis(-1, out));
  EXPECT_EQ(std::string_view(out, sizeof(out)), "1969-12-31T23:59:59.999Z");
  ASSERT_TRUE(FormatIso8601Millis(1767225600123, out));
  EXPECT_EQ(std::string_view(out, sizeof(out)), "2026-01-01T00:00:00.123Z");
  ASSERT_TRUE(FormatIso8601Millis(kMaxIso8601Millis, out));
  EXPECT_EQ(std::string_view(out, sizeof(out)), "9999-12-31T23:59:59.999Z");
  ASSERT_TRUE(FormatIso8601Millis(kMinIso8601Millis, out));
  EXPECT_EQ(std::string_view(out, sizeof(out)), "0000-01-01T00:00:00.000Z");
  EXPECT_FALSE(FormatIso8601Millis(kMaxIso8601Millis + 1, out));
  EXPECT_FALSE(FormatIso8601Millis(kMinIso8601Millis - 1, out));
}

TEST(TimeFormatTest, CivilDaysRoundTripOverTenThousandYears) {
  int64_t previous = DaysFromCivil(-1, 12, 31);
  for (int64_t year = 0; year <= 9999; ++year) {
    for (unsigned month = 1; month <= 12; ++month) {
      for (unsigned day = 1; day <= DaysInMonth(year, month); ++day) {
        const int64_t days = DaysFromCivil(year, month, day);
        ASSERT_EQ(days, previous + 1) << year << "-" << month << "-" << day;
        const CivilDate back = CivilFromDays(days);
        ASSERT_EQ(back.year, year);
        ASSERT_EQ(back.month, month);
        ASSERT_EQ(back.day, day);
        previous = days;
      }
    }
  }
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
}

}  // namespace
}  // namespace tideline::pipeline
