#include "json_scan.h"

#include <charconv>

namespace tideline::loadgen {
namespace {

bool IsJsonSpace(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

size_t SkipSpace(std::string_view json, size_t pos) {
  while (pos < json.size() && IsJsonSpace(json[pos]))
    ++pos;
  return pos;
}

// End (index of the closing quote) of the string starting after the opening quote at
// `begin`, or npos if unterminated. Counts the escape backslashes seen into `escapes`.
size_t StringEnd(std::string_view json, size_t begin, uint64_t& escapes) {
  size_t pos = begin;
  while (pos < json.size()) {
    char c = json[pos];
    if (c == '"') return pos;
    if (c == '\\') {
      ++escapes;
      pos += 2;
      continue;
    }
    ++pos;
  }
  return std::string_view::npos;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Undoes one escape at json[pos] (the character after the backslash). Returns false if it is
// not one we accept.
bool Unescape(std::string_view json, size_t& pos, std::string& out) {
  switch (json[pos]) {
    case '"':
      out += '"';
      break;
    case '\\':
      out += '\\';
      break;
    case '/':
      out += '/';
      break;
    case 'b':
      out += '\b';
      break;
    case 'f':
      out += '\f';
      break;
    case 'n':
      out += '\n';
      break;
    case 'r':
      out += '\r';
      break;
    case 't':
      out += '\t';
      break;
    case 'u': {
      if (pos + 4 >= json.size()) return false;
      int value = 0;
      for (size_t i = 1; i <= 4; ++i) {
        int digit = HexValue(json[pos + i]);
        if (digit < 0) return false;
        value = value * 16 + digit;
      }
      // Iterators and ids are ASCII; anything else is not a value this tool needs.
      if (value > 0x7f) return false;
      out += static_cast<char>(value);
      pos += 4;
      break;
    }
    default:
      return false;
  }
  ++pos;
  return true;
}

}  // namespace

size_t FindValue(std::string_view json, std::string_view key, size_t from) {
  while (from < json.size()) {
    size_t at = json.find(key, from);
    if (at == std::string_view::npos) return at;
    size_t end = at + key.size();
    // The key must be a whole quoted name followed by a colon.
    if (at > 0 && json[at - 1] == '"' && end < json.size() && json[end] == '"') {
      size_t colon = SkipSpace(json, end + 1);
      if (colon < json.size() && json[colon] == ':') return SkipSpace(json, colon + 1);
    }
    from = at + 1;
  }
  return std::string_view::npos;
}

std::optional<uint64_t> ScanUnsigned(std::string_view json, std::string_view key) {
  size_t pos = FindValue(json, key);
  if (pos == std::string_view::npos) return std::nullopt;
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(json.data() + pos, json.data() + json.size(), value);
  if (ec != std::errc()) return std::nullopt;
  return value;
}

std::optional<std::string> ScanString(std::string_view json, std::string_view key) {
  size_t pos = FindValue(json, key);
  if (pos == std::string_view::npos || json[pos] != '"') return std::nullopt;
  std::string out;
  ++pos;
  while (pos < json.size()) {
    char c = json[pos];
    if (c == '"') return out;
    if (c == '\\') {
      ++pos;
      if (pos >= json.size() || !Unescape(json, pos, out)) return std::nullopt;
      continue;
    }
    out += c;
    ++pos;
  }
  return std::nullopt;
}

RecordsScan ScanRecords(std::string_view json) {
  RecordsScan scan;
  size_t pos = 0;
  while ((pos = FindValue(json, "Data", pos)) != std::string_view::npos) {
    if (json[pos] != '"') {
      scan.well_formed = false;
      return scan;
    }
    uint64_t escapes = 0;
    size_t end = StringEnd(json, pos + 1, escapes);
    if (end == std::string_view::npos) {
      scan.well_formed = false;
      return scan;
    }
    uint64_t length = end - (pos + 1) - escapes;
    uint64_t padding = 0;
    for (size_t i = end; i > pos + 1 && padding < 2 && json[i - 1] == '='; --i)
      ++padding;
    scan.records += 1;
    scan.payload_bytes += Base64DecodedSize(length, padding);
    pos = end + 1;
  }
  return scan;
}

std::string Base64Encode(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  auto byte = [&](size_t at) { return static_cast<uint32_t>(static_cast<uint8_t>(data[at])); };
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += kAlphabet[n >> 6 & 63];
    out += kAlphabet[n & 63];
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out += kAlphabet[n >> 18 & 63];
    out += kAlphabet[n >> 12 & 63];
    out += rest == 2 ? kAlphabet[n >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

void AppendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace tideline::loadgen
