// CBOR items written byte by byte (RFC 8949 section 3) for the server tests, so that a test says
// exactly what a client sends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tideline::server::test_cbor {

inline std::string Head(int major, uint64_t v) {
  std::string out;
  const auto m = static_cast<char>(major << 5);
  if (v < 24) {
    out.push_back(static_cast<char>(m | static_cast<char>(v)));
    return out;
  }
  int bytes = v <= 0xff ? 1 : v <= 0xffff ? 2 : v <= 0xffffffffu ? 4 : 8;
  out.push_back(static_cast<char>(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return out;
}
inline std::string U(uint64_t v) {
  return Head(0, v);
}
inline std::string N(uint64_t v) {  // -1 - v
  return Head(1, v);
}
inline std::string B(std::string_view s) {
  return Head(2, s.size()) + std::string(s);
}
inline std::string T(std::string_view s) {
  return Head(3, s.size()) + std::string(s);
}
inline std::string A(uint64_t n) {
  return Head(4, n);
}
inline std::string M(uint64_t n) {
  return Head(5, n);
}
inline std::string Tag(uint64_t t) {
  return Head(6, t);
}
inline const std::string kIndefMap = "\xbf";
inline const std::string kIndefArray = "\x9f";
inline const std::string kBreak = "\xff";
inline const std::string kNull = "\xf6";
inline const std::string kTrue = "\xf5";

}  // namespace tideline::server::test_cbor
