#include "common/utf8.h"

#include <cstdint>
#include <cstring>

namespace tideline {
namespace {

// Length of the well-formed sequence at s[i], or 0 when the bytes there are ill-formed.
size_t SequenceLength(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  const uint8_t b0 = byte(i);
  if (b0 < 0x80) return 1;
  const size_t left = s.size() - i;
  const auto cont = [&](size_t k) { return k < left && (byte(i + k) & 0xC0) == 0x80; };
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left < 2) return 0;
    const uint8_t b1 = byte(i + 1);
    // E0 needs A0..BF (no overlong forms); ED needs 80..9F (no surrogates).
    const uint8_t lo = b0 == 0xE0 ? 0xA0 : 0x80;
    const uint8_t hi = b0 == 0xED ? 0x9F : 0xBF;
    return b1 >= lo && b1 <= hi && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left < 2) return 0;
    const uint8_t b1 = byte(i + 1);
    // F0 needs 90..BF (no overlong forms); F4 needs 80..8F (nothing above U+10FFFF).
    const uint8_t lo = b0 == 0xF0 ? 0x90 : 0x80;
    const uint8_t hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return b1 >= lo && b1 <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

// Index of the first byte >= 0x80 at or after `from`; s.size() when there is none.
size_t SkipAscii(std::string_view s, size_t from) {
  size_t i = from;
  // Eight bytes at a time while none has its high bit set.
  while (i + 8 <= s.size()) {
    uint64_t word;
    std::memcpy(&word, s.data() + i, sizeof(word));
    if (word & 0x8080808080808080ull) break;
    i += 8;
  }
  while (i < s.size() && static_cast<uint8_t>(s[i]) < 0x80)
    ++i;
  return i;
}

}  // namespace

size_t InvalidUtf8Offset(std::string_view s) {
  size_t i = SkipAscii(s, 0);
  while (i < s.size()) {
    const size_t n = SequenceLength(s, i);
    if (n == 0) return i;
    i = SkipAscii(s, i + n);
  }
  return std::string_view::npos;
}

bool IsValidUtf8(std::string_view s) {
  return InvalidUtf8Offset(s) == std::string_view::npos;
}

std::string ToValidUtf8(std::string_view s) {
  if (IsValidUtf8(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    const size_t n = SequenceLength(s, i);
    if (n > 0) {
      out.append(s.substr(i, n));
      i += n;
      continue;
    }
    out.append("\xEF\xBF\xBD");
    // Skip the lead byte and the continuation bytes that belonged to it.
    ++i;
    while (i < s.size() && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80 && SequenceLength(s, i) == 0)
      ++i;
  }
  return out;
}

}  // namespace tideline
