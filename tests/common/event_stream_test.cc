#include "common/event_stream.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tideline::eventstream {
namespace {

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes)
    s.push_back(static_cast<char>(b));
  return s;
}

TEST(EventStreamTest, Crc32IsIeee) {
  EXPECT_EQ(Crc32(0, "123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32(Crc32(0, "1234"), "56789"), 0xCBF43926u);
}

TEST(EventStreamTest, EmptyMessageMatchesTheReferenceEncoding) {
  // The empty message of the encoding's public test vectors: 16 bytes, no headers, no payload.
  const std::string expected = Bytes({0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x05, 0xc2,
                                      0x48, 0xeb, 0x7d, 0x98, 0xc8, 0xff});
  std::string out;
  AppendMessage(out, {}, "");
  EXPECT_EQ(out, expected);
  size_t consumed = 0;
  auto decoded = DecodeMessage(expected, &consumed);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  ASSERT_TRUE(decoded->has_value());
  EXPECT_EQ(consumed, 16u);
  EXPECT_TRUE((*decoded)->headers.empty());
  EXPECT_TRUE((*decoded)->payload.empty());
}

TEST(EventStreamTest, EventRoundTripsWithItsHeaders) {
  std::string out;
  AppendEvent(out, "SubscribeToShardEvent", "application/json", R"({"Records":[]})");
  size_t consumed = 0;
  auto decoded = DecodeMessage(out, &consumed);
  ASSERT_TRUE(decoded.ok());
  ASSERT_TRUE(decoded->has_value());
  const Message& m = **decoded;
  EXPECT_EQ(consumed, out.size());
  EXPECT_EQ(m.Header(":message-type"), "event");
  EXPECT_EQ(m.Header(":event-type"), "SubscribeToShardEvent");
  EXPECT_EQ(m.Header(":content-type"), "application/json");
  EXPECT_EQ(m.payload, R"({"Records":[]})");

  out.clear();
  AppendException(out, "ResourceInUseException", "application/json", R"({"message":"x"})");
  decoded = DecodeMessage(out, &consumed);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ((*decoded)->Header(":message-type"), "exception");
  EXPECT_EQ((*decoded)->Header(":exception-type"), "ResourceInUseException");
}

TEST(EventStreamTest, EventBuiltInPlaceEqualsTheAppendedOne) {
  const std::string payload = R"({"Records":[],"MillisBehindLatest":0})";
  std::string appended = "before";
  AppendEvent(appended, "SubscribeToShardEvent", "application/json", payload);
  // In place: a prefix of any content, the payload, room for the CRC, inside a larger buffer.
  const size_t prefix = EventPrefixSize("SubscribeToShardEvent", "application/json");
  std::string built = "before" + std::string(prefix, '?') + payload + "????";
  FinishEvent(std::span<char>(built.data() + 6, built.size() - 6), "SubscribeToShardEvent",
              "application/json");
  EXPECT_EQ(built, appended);
}

TEST(EventStreamTest, DecodesEveryHeaderType) {
  // Headers built by hand: bool true, int32 -2, int64 timestamp, bytes, uuid, short, byte.
  std::string headers;
  auto name = [&](std::string_view n, int type) {
    headers.push_back(static_cast<char>(n.size()));
    headers.append(n);
    headers.push_back(static_cast<char>(type));
  };
  name("t", 0);
  name("f", 1);
  name("i", 4);
  headers += Bytes({0xff, 0xff, 0xff, 0xfe});
  name("ts", 8);
  headers += Bytes({0, 0, 0x01, 0x8c, 0, 0, 0, 1});
  name("b", 6);
  headers += Bytes({0, 2, 0xca, 0xfe});
  name("u", 9);
  headers += std::string(16, 'u');
  name("s", 3);
  headers += Bytes({0x80, 0x00});
  name("y", 2);
  headers += Bytes({0x7f});
  const std::string payload = "body";
  std::string msg(12, '\0');
  const uint32_t total = static_cast<uint32_t>(16 + headers.size() + payload.size());
  auto put = [](char* p, uint32_t v) {
    for (int i = 0; i < 4; ++i)
      p[i] = static_cast<char>(v >> (24 - 8 * i));
  };
  put(msg.data(), total);
  put(msg.data() + 4, static_cast<uint32_t>(headers.size()));
  put(msg.data() + 8, Crc32(0, std::string_view(msg.data(), 8)));
  msg += headers + payload + std::string(4, '\0');
  put(msg.data() + total - 4, Crc32(0, std::string_view(msg.data(), total - 4)));

  size_t consumed = 0;
  auto decoded = DecodeMessage(msg, &consumed);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  const Message& m = **decoded;
  ASSERT_EQ(m.headers.size(), 8u);
  EXPECT_EQ(m.headers[0].second.number, 1);
  EXPECT_EQ(m.headers[1].second.type, HeaderValue::Type::kFalse);
  EXPECT_EQ(m.headers[2].second.number, -2);
  EXPECT_EQ(m.headers[3].second.number, 0x0000018c00000001LL);
  EXPECT_EQ(m.headers[4].second.bytes, Bytes({0xca, 0xfe}));
  EXPECT_EQ(m.headers[5].second.bytes, std::string(16, 'u'));
  EXPECT_EQ(m.headers[6].second.number, -32768);
  EXPECT_EQ(m.headers[7].second.number, 127);
  EXPECT_EQ(m.payload, payload);
}

TEST(EventStreamTest, DecoderReassemblesMessagesSplitAnywhere) {
  std::string body;
  for (int i = 0; i < 20; ++i) {
    AppendEvent(body, "SubscribeToShardEvent", "application/json", std::string(i * 37, 'a' + i));
  }
  for (size_t piece : {1u, 3u, 16u, 1000u}) {
    Decoder decoder;
    std::vector<Message> messages;
    for (size_t at = 0; at < body.size(); at += piece) {
      ASSERT_TRUE(decoder.Feed(std::string_view(body).substr(at, piece), &messages).ok());
    }
    ASSERT_EQ(messages.size(), 20u) << "piece " << piece;
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(messages[i].payload, std::string(i * 37, 'a' + i));
    }
    EXPECT_EQ(decoder.buffered(), 0u);
  }
}

TEST(EventStreamTest, RefusesCorruptMessages) {
  std::string good;
  AppendEvent(good, "SubscribeToShardEvent", "application/json", "{}");
  size_t consumed = 0;

  std::string bad_prelude = good;
  bad_prelude[8] ^= 1;
  EXPECT_FALSE(DecodeMessage(bad_prelude, &consumed).ok());

  std::string bad_payload = good;
  bad_payload[good.size() - 5] ^= 1;
  EXPECT_FALSE(DecodeMessage(bad_payload, &consumed).ok());

  // Lengths that do not add up: headers longer than the message.
  std::string bad_lengths(12, '\0');
  bad_lengths[3] = 16;
  bad_lengths[7] = 32;
  const uint32_t crc = Crc32(0, std::string_view(bad_lengths.data(), 8));
  for (int i = 0; i < 4; ++i)
    bad_lengths[8 + i] = static_cast<char>(crc >> (24 - 8 * i));
  EXPECT_FALSE(DecodeMessage(bad_lengths, &consumed).ok());

  // A partial message is not an error, and consumes nothing.
  auto partial = DecodeMessage(std::string_view(good).substr(0, good.size() - 1), &consumed);
  ASSERT_TRUE(partial.ok());
  EXPECT_FALSE(partial->has_value());
  EXPECT_EQ(consumed, 0u);

  // After an error the decoder stays failed.
  Decoder decoder;
  std::vector<Message> messages;
  EXPECT_FALSE(decoder.Feed(bad_payload, &messages).ok());
  EXPECT_FALSE(decoder.Feed(good, &messages).ok());
  EXPECT_TRUE(messages.empty());
}

}  // namespace
}  // namespace tideline::eventstream
