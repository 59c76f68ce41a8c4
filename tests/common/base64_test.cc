// Base64 shared by the API, the CLI and the pipeline: both the buffer and the string forms.
#include "common/base64.h"

#include <gtest/gtest.h>

#include <random>

namespace tideline {
namespace {

std::string Encode(std::string_view s) {
  std::string out;
  Base64Append(s, out);
  return out;
}

std::optional<std::string> Decode(std::string_view s) {
  std::string out(Base64MaxDecodedSize(s.size()), '\0');
  auto n = Base64Decode(s, out.data());
  if (!n) return std::nullopt;
  out.resize(*n);
  return out;
}

TEST(Base64Test, RoundTripsEveryLengthAndByteValue) {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 1) {
    const std::string in = all.substr(0, len);
    EXPECT_EQ(Decode(Encode(in)), in) << len;
  }
  EXPECT_EQ(Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(Encode("hi"), "aGk=");
}

TEST(Base64Test, EncodesRfc4648TestVectors) {
  EXPECT_EQ(Encode(""), "");
  EXPECT_EQ(Encode("f"), "Zg==");
  EXPECT_EQ(Encode("fo"), "Zm8=");
  EXPECT_EQ(Encode("foo"), "Zm9v");
  EXPECT_EQ(Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Encode("\xff\xfe\xfd"), "//79");  // top of the alphabet, both 12-bit halves
}

TEST(Base64Test, RejectsMalformedInput) {
  EXPECT_FALSE(Decode("aGVsbG8"));   // not a multiple of 4
  EXPECT_FALSE(Decode("aGV$bG8="));  // outside the alphabet
  EXPECT_FALSE(Decode("aG=sbG8="));  // padding in the middle
  EXPECT_FALSE(
      Decode("aGk="
             "x"));              // trailing byte
  EXPECT_FALSE(Decode("aGl="));  // non-zero unused bits
  EXPECT_FALSE(Decode("aGVsbG8=\n"));
  EXPECT_EQ(Decode(""), std::string());
}

// Base64IsValid (the request validator's fast check) accepts exactly what the decoder accepts:
// random valid encodings of every length with one character changed, pads in every position.
TEST(Base64Test, IsValidAgreesWithTheDecoder) {
  std::mt19937 rng(11);
  const std::string chars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \n\x80\xff";
  for (int n = 0; n < 20000; ++n) {
    std::string raw(rng() % 80, '\0');
    for (char& c : raw)
      c = static_cast<char>(rng());
    std::string b64 = Encode(raw);
    ASSERT_TRUE(Base64IsValid(b64)) << b64;
    if (!b64.empty() && n % 4 != 0) b64[rng() % b64.size()] = chars[rng() % chars.size()];
    if (n % 7 == 0) b64.insert(rng() % (b64.size() + 1), 1, chars[rng() % chars.size()]);
    EXPECT_EQ(Base64IsValid(b64), Decode(b64).has_value()) << b64;
  }
  for (std::string s : {"====", "a===", "ab==", "abc=", "AA==", "AAA=", "A===", "=AAA"}) {
    EXPECT_EQ(Base64IsValid(s), Decode(s).has_value()) << s;
  }
}

TEST(Base64StringTest, EncodesRfc4648TestVectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded) << plain;
    EXPECT_EQ(Base64Decode(encoded), plain) << encoded;
  }
}

TEST(Base64StringTest, RoundTripsEveryByteValueAndLength) {
  std::mt19937 rng(42);
  for (size_t len = 0; len < 300; ++len) {
    std::string bytes(len, '\0');
    for (auto& b : bytes)
      b = static_cast<char>(rng() & 0xFF);
    const std::string encoded = Base64Encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.has_value()) << len;
    EXPECT_EQ(*decoded, bytes);
  }
}

TEST(Base64StringTest, RejectsMalformedInput) {
  for (const char* bad :
       {"Zg", "Zg=", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm 9v", "=Zm9", "Zh==", "Zm9=", "Zm8=\n"}) {
    EXPECT_FALSE(Base64Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tideline
