#include "common/utf8.h"

#include <string>

#include <gtest/gtest.h>

namespace tideline {
namespace {

TEST(Utf8, AcceptsWellFormedTextOfEveryLength) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough to take the word-at-a-time path"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));                   // U+00E9
  EXPECT_TRUE(IsValidUtf8("\xE2\x82\xAC"));                  // U+20AC
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));              // U+1F600
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));                  // U+D7FF, last before surrogates
  EXPECT_TRUE(IsValidUtf8("\xEE\x80\x80"));                  // U+E000, first after them
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));              // U+10FFFF
  EXPECT_TRUE(IsValidUtf8(std::string("nul\0inside", 10)));  // NUL is a valid code point
}

TEST(Utf8, RejectsEveryIllFormedClass) {
  EXPECT_FALSE(IsValidUtf8("\x80"));              // stray continuation byte
  EXPECT_FALSE(IsValidUtf8("\xC3"));              // truncated two-byte sequence
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xC1\xBF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong three-byte
  EXPECT_FALSE(IsValidUtf8("\xF0\x80\x80\xAF"));  // overlong four-byte
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // U+D800, a surrogate
  EXPECT_FALSE(IsValidUtf8("\xED\xBF\xBF"));      // U+DFFF
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xF5\x80\x80\x80"));  // invalid lead byte
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_FALSE(IsValidUtf8("ascii prefix long enough for the fast path \xE2\x82"));
}

TEST(Utf8, InvalidOffsetPointsAtTheFirstBadSequence) {
  EXPECT_EQ(InvalidUtf8Offset("all ascii, and long enough for the word loop"), std::string::npos);
  EXPECT_EQ(InvalidUtf8Offset("caf\xC3\xA9"), std::string::npos);
  EXPECT_EQ(InvalidUtf8Offset("caf\xC3\xA9 \xFF"), 6u);
  EXPECT_EQ(InvalidUtf8Offset("0123456789\xF0"), 10u);
}

TEST(Utf8, ToValidReplacesEachBadRunWithOneReplacementCharacter) {
  EXPECT_EQ(ToValidUtf8("ok"), "ok");
  EXPECT_EQ(ToValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ToValidUtf8("a\xFF"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ToValidUtf8("a\xE2\x82"
                        "b"),
            "a\xEF\xBF\xBD"
            "b");
  const std::string fixed = ToValidUtf8("\xED\xA0\x80 \xC0\xAF \x80\x80");
  EXPECT_TRUE(IsValidUtf8(fixed)) << fixed;
  EXPECT_EQ(fixed.find('\xED'), std::string::npos);
}

}  // namespace
}  // namespace tideline
