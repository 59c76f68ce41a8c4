#include "processors/access_log_parser.h"

#include <cstring>

#include "common/time_format.h"

namespace tideline::pipeline {
namespace {

constexpr bool IsTrailingSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The digit's value, or a value > 9 when `c` is not a digit.
constexpr unsigned DigitValue(char c) {
  return static_cast<unsigned>(c) - '0';
}

// Parses exactly `n` digits at p; false when one is not a digit.
constexpr bool Digits(const char* p, int n, unsigned& value) {
  value = 0;
  for (int i = 0; i < n; ++i) {
    const unsigned d = DigitValue(p[i]);
    if (d > 9) return false;
    value = value * 10 + d;
  }
  return true;
}

// 1..12 for the English abbreviation strftime's %b writes in the C locale, 0 otherwise.
constexpr unsigned MonthNumber(const char* p) {
  const char a = p[0], b = p[1], c = p[2];
  switch (a) {
    case 'J':
      if (b == 'a' && c == 'n') return 1;
      if (b == 'u' && c == 'n') return 6;
      if (b == 'u' && c == 'l') return 7;
      return 0;
    case 'F':
      return b == 'e' && c == 'b' ? 2 : 0;
    case 'M':
      if (b == 'a' && c == 'r') return 3;
      if (b == 'a' && c == 'y') return 5;
      return 0;
    case 'A':
      if (b == 'p' && c == 'r') return 4;
      if (b == 'u' && c == 'g') return 8;
      return 0;
    case 'S':
      return b == 'e' && c == 'p' ? 9 : 0;
    case 'O':
      return b == 'c' && c == 't' ? 10 : 0;
    case 'N':
      return b == 'o' && c == 'v' ? 11 : 0;
    case 'D':
      return b == 'e' && c == 'c' ? 12 : 0;
    default:
      return 0;
  }
}

constexpr bool IsMethodChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
 public:
  Parser(std::string_view line, AccessLogLine& out, AccessLogParseError& error)
      : line_(line), out_(out), error_(error) {}

  bool Parse() {
    while (!line_.empty() && IsTrailingSpace(line_.back()))
      line_.remove_suffix(1);
    out_.line = line_;
    SkipSpaces();
    if (AtEnd()) return Fail("empty line", 0);
    out_.client_ip = Token();
    if (!Separator("missing the ident field after the client address")) return false;
    out_.ident = Token();
    if (!Separator("missing the user field after the ident")) return false;
    out_.user = Token();
    if (!Separator("missing the timestamp after the user")) return false;
    if (!Timestamp()) return false;
    if (!Separator("missing the quoted request after the timestamp")) return false;
    if (!Quoted("request is not a quoted field", "unterminated quoted request", out_.request)) {
      return false;
    }
    SplitRequest();
    if (!Separator("missing the status after the request")) return false;
    if (!Status()) return false;
    if (!Separator("missing the bytes field after the status")) return false;
    if (!Bytes()) return false;
    // A common line ends here; anything unquoted that follows is an appended field.
    SkipSpaces();
    if (AtEnd() || line_[pos_] != '"') return true;
    if (!Quoted("", "unterminated quoted referrer", out_.referrer)) return false;
    if (!Separator("missing the quoted user agent after the referrer")) return false;
    if (!Quoted("user agent is not a quoted field", "unterminated quoted user agent",
                out_.user_agent)) {
      return false;
    }
    out_.combined = true;
    return true;  // appended fields after the user agent are ignored
  }

 private:
  bool Fail(const char* what, size_t at) {
    error_.what = what;
    error_.offset = at;
    return false;
  }
  bool AtEnd() const { return pos_ >= line_.size(); }
  bool SkipSpaces() {
    const size_t start = pos_;
    while (pos_ < line_.size() && line_[pos_] == ' ')
      ++pos_;
    return pos_ > start;
  }
  // One or more spaces followed by something; `missing` otherwise.
  bool Separator(const char* missing) {
    if (!SkipSpaces() || AtEnd()) return Fail(missing, pos_);
    return true;
  }
  // A run of non-space bytes (non-empty: called at a non-space byte).
  std::string_view Token() {
    const size_t start = pos_;
    const size_t end = line_.find(' ', pos_);
    pos_ = end == std::string_view::npos ? line_.size() : end;
    return line_.substr(start, pos_ - start);
  }

  // A double-quoted field at pos_ (see the header for the escaping rules).
  bool Quoted(const char* not_quoted, const char* unterminated, std::string_view& field) {
    const size_t open = pos_;
    if (line_[open] != '"') return Fail(not_quoted, open);
    const size_t start = open + 1;
    size_t from = start;
    while (true) {
      const size_t quote = line_.find('"', from);
      if (quote == std::string_view::npos) return Fail(unterminated, open);
      size_t backslashes = 0;
      while (quote - backslashes > start && line_[quote - backslashes - 1] == '\\')
        ++backslashes;
      const bool escaped = backslashes % 2 == 1;
      if (!escaped && (quote + 1 == line_.size() || line_[quote + 1] == ' ')) {
        field = line_.substr(start, quote - start);
        pos_ = quote + 1;
        return true;
      }
      from = quote + 1;
    }
  }

  // [dd/Mon/yyyy:HH:MM:SS[.fff] +zzzz]
  bool Timestamp() {
    const size_t at = pos_;
    if (line_[at] != '[') return Fail("timestamp does not start with '['", at);
    // The shortest form is 28 bytes; reading p[0..27] is safe after this check.
    if (line_.size() - at < 28) return Fail("truncated timestamp", at);
    const char* p = line_.data() + at;
    unsigned day, year, hour, minute, second;
    if (!Digits(p + 1, 2, day) || p[3] != '/') return Fail("bad day in the timestamp", at + 1);
    const unsigned month = MonthNumber(p + 4);
    if (month == 0 || p[7] != '/') return Fail("bad month in the timestamp", at + 4);
    if (!Digits(p + 8, 4, year) || p[12] != ':') {
      return Fail("bad year in the timestamp", at + 8);
    }
    if (day < 1 || day > DaysInMonth(year, month)) {
      return Fail("day out of range for the month in the timestamp", at + 1);
    }
    if (!Digits(p + 13, 2, hour) || p[15] != ':' || !Digits(p + 16, 2, minute) || p[18] != ':' ||
        !Digits(p + 19, 2, second) || hour > 23 || minute > 59 || second > 59) {
      return Fail("bad time of day in the timestamp", at + 13);
    }
    size_t i = at + 21;  // after the seconds
    unsigned millis = 0;
    if (line_[i] == '.') {
      // Optional fraction (Apache %{msec_frac}t and similar): milliseconds from its first three
      // digits, the rest truncated.
      ++i;
      const size_t digits_start = i;
      unsigned scale = 100;
      while (i < line_.size() && DigitValue(line_[i]) <= 9) {
        millis += DigitValue(line_[i]) * scale;
        scale /= 10;
        ++i;
      }
      if (i == digits_start) return Fail("bad fraction of a second in the timestamp", i);
    }
    if (line_.size() - i < 7) return Fail("truncated timestamp", at);
    p = line_.data() + i;
    unsigned zone_hours, zone_minutes;
    if (p[0] != ' ' || (p[1] != '+' && p[1] != '-') || !Digits(p + 2, 2, zone_hours) ||
        !Digits(p + 4, 2, zone_minutes) || zone_hours > 23 || zone_minutes > 59) {
      return Fail("bad zone offset in the timestamp", i + 1);
    }
    if (p[6] != ']') return Fail("timestamp does not end with ']'", i + 6);
    pos_ = i + 7;

    // Local time minus its offset from UTC is UTC.
    const int64_t offset_seconds =
        (p[1] == '-' ? -1 : 1) * static_cast<int64_t>(zone_hours * 3600 + zone_minutes * 60);
    const int64_t seconds = DaysFromCivil(year, month, day) * 86'400 + hour * 3600 + minute * 60 +
                            second - offset_seconds;
    out_.timestamp_ms = seconds * 1000 + millis;
    if (out_.timestamp_ms < kMinIso8601Millis || out_.timestamp_ms > kMaxIso8601Millis) {
      return Fail("timestamp is outside years 0000-9999 in UTC", at);
    }
    return true;
  }

  // METHOD SP target [SP HTTP/x]; leaves request_split false for anything else.
  void SplitRequest() {
    std::string_view r = out_.request;
    const size_t method_end = r.find(' ');
    if (method_end == 0 || method_end == std::string_view::npos) return;
    for (size_t i = 0; i < method_end; ++i) {
      if (!IsMethodChar(r[i])) return;
    }
    std::string_view rest = r.substr(method_end);
    while (!rest.empty() && rest.front() == ' ')
      rest.remove_prefix(1);
    while (!rest.empty() && rest.back() == ' ')
      rest.remove_suffix(1);
    std::string_view protocol;
    const size_t last_space = rest.rfind(' ');
    if (last_space != std::string_view::npos) {
      protocol = rest.substr(last_space + 1);
      // A target with spaces and no protocol is not a request line.
      if (protocol.size() <= 5 || protocol.substr(0, 5) != "HTTP/") return;
      rest = rest.substr(0, last_space);
      while (!rest.empty() && rest.back() == ' ')
        rest.remove_suffix(1);
    }
    if (rest.empty()) return;
    out_.method = r.substr(0, method_end);
    out_.target = rest;
    out_.protocol = protocol;
    out_.request_split = true;
  }

  bool Status() {
    const size_t at = pos_;
    const std::string_view token = Token();
    unsigned status;
    if (token.size() != 3 || !Digits(token.data(), 3, status)) {
      return Fail("status is not a 3-digit number", at);
    }
    out_.status = static_cast<int>(status);
    return true;
  }

  bool Bytes() {
    const size_t at = pos_;
    const std::string_view token = Token();
    if (token == "-") {
      out_.bytes = 0;
      return true;
    }
    // 19 digits always fit in 64 bits.
    if (token.size() > 19) return Fail("bytes is too large", at);
    uint64_t bytes = 0;
    for (const char c : token) {
      const unsigned d = DigitValue(c);
      if (d > 9) return Fail("bytes is neither '-' nor a number", at);
      bytes = bytes * 10 + d;
    }
    out_.bytes = bytes;
    return true;
  }

  std::string_view line_;
  size_t pos_ = 0;
  AccessLogLine& out_;
  AccessLogParseError& error_;
};

}  // namespace

bool ParseAccessLogLine(std::string_view line, AccessLogLine& out, AccessLogParseError& error) {
  out = AccessLogLine{};
  return Parser(line, out, error).Parse();
}

std::string DescribeAccessLogParseError(std::string_view line, const AccessLogParseError& error) {
  constexpr size_t kSnippetBytes = 24;
  std::string message = error.what;
  message += " at byte ";
  message += std::to_string(error.offset);
  if (error.offset >= line.size()) {
    message += " (end of line)";
    return message;
  }
  message += " near '";
  const std::string_view snippet = line.substr(error.offset, kSnippetBytes);
  for (const char c : snippet) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      message += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      message += "\\x";
      message += kHex[u >> 4];
      message += kHex[u & 0xf];
    }
  }
  message += '\'';
  if (line.size() - error.offset > kSnippetBytes) message += "...";
  return message;
}

}  // namespace tideline::pipeline
