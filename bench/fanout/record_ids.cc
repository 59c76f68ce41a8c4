#include "record_ids.h"

#include "common/base64.h"
#include "json_scan.h"

namespace tideline::fanout {

void WriteRecordIdBase64(uint64_t id, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  char digits[kIdBytes];
  for (size_t i = kIdBytes; i-- > 0;) {
    digits[i] = kHex[id & 0xf];
    id >>= 4;
  }
  Base64Encode(std::string_view(digits, kIdBytes), out);
}

std::optional<uint64_t> ReadRecordIdBase64(std::string_view base64) {
  if (base64.size() < kIdBase64Chars) return std::nullopt;
  char digits[kIdBytes];
  std::optional<size_t> n = Base64Decode(base64.substr(0, kIdBase64Chars), digits);
  if (!n || *n != kIdBytes) return std::nullopt;
  uint64_t id = 0;
  for (size_t i = 0; i < kIdBytes; ++i) {
    const char c = digits[i];
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    // 18 hex digits can exceed 64 bits; ids never do.
    if (id >> 60 != 0) return std::nullopt;
    id = id << 4 | digit;
  }
  return id;
}

size_t ReadBase64Prefix(std::string_view json, size_t pos, char* out, size_t n, size_t& end) {
  size_t got = 0;
  while (pos < json.size()) {
    char c = json[pos];
    if (c == '"') {
      end = pos;
      return got;
    }
    if (c == '\\') {
      // Only "\/" can occur in base64; any other escape is not base64 and ends the prefix.
      if (pos + 1 >= json.size()) break;
      c = json[pos + 1];
      pos += 2;
      if (c != '/') n = got;
    } else {
      ++pos;
    }
    if (got < n) out[got++] = c;
  }
  end = std::string_view::npos;
  return got;
}

size_t NextDataValue(std::string_view json, size_t from) {
  for (size_t pos = loadgen::FindValue(json, "Data", from); pos < json.size();
       pos = loadgen::FindValue(json, "Data", pos)) {
    if (json[pos] == '"') return pos + 1;
  }
  return std::string_view::npos;
}

}  // namespace tideline::fanout
