// Tokenizer for web server access-log lines: the Common Log Format (Apache `%h %l %u %t "%r"
// %>s %b`) and the combined format (Apache's `combined` and Nginx's `combined`/`main`, which
// add ` "%{Referer}i" "%{User-agent}i"`).
//
// The parser only finds fields: every text it returns is a view into the line, exactly as
// logged (escapes not decoded, "-" not removed). Turning fields into JSON is access_log.cc's
// job. It allocates nothing and never reads outside the line.
//
// What is accepted, field by field (fields are separated by one or more spaces):
//   client_ip, ident, user  any non-empty run of non-space bytes (an IPv4 or IPv6 address, or
//                           a host name with HostnameLookups; not validated).
//   timestamp               [dd/Mon/yyyy:HH:MM:SS +zzzz], English month abbreviation, optional
//                           fraction after the seconds ([...:36.123 -0700]); every part is
//                           range-checked, including the day of the month.
//   request                 a double-quoted field (see below). Split into method, target and
//                           protocol when it looks like an HTTP request line: METHOD SP target
//                           [SP HTTP/x]. Anything else ("-", "", binary bytes from TLS or port
//                           scanners, a lone word) is kept whole in `request` with
//                           request_split false: such lines are real traffic worth indexing
//                           (their status is usually 400), so they do not fail.
//   status                  exactly three digits (Nginx logs 499 and 009 as well as 1xx-5xx).
//   bytes                   "-" (0) or up to 19 digits.
//   referrer, user_agent    two double-quoted fields, both or neither.
// After the user agent (or after bytes, for a common line) anything else is ignored: extra
// fields some Nginx and Apache formats append ("$http_x_forwarded_for", %D, ...). Trailing
// spaces, tabs, CR and LF are trimmed first.
//
// Quoted fields: Apache writes `"` as \" and `\` as \\; Nginx writes both as \x22 / \x5C. A
// backslash therefore always escapes the next byte, and a field ends at the first unescaped
// quote that is followed by a space or the end of the line (so an unescaped quote inside a
// field, as very old Apache versions wrote, does not end it early).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tideline::pipeline {

struct AccessLogLine {
  std::string_view line;  // the whole line, trailing whitespace trimmed
  std::string_view client_ip;
  std::string_view ident;
  std::string_view user;
  int64_t timestamp_ms = 0;  // UTC, milliseconds since the epoch
  std::string_view request;  // between the quotes, as logged
  bool request_split = false;
  std::string_view method;    // meaningful when request_split
  std::string_view target;    // meaningful when request_split
  std::string_view protocol;  // meaningful when request_split; empty for an HTTP/0.9 line
  int status = 0;
  uint64_t bytes = 0;
  bool combined = false;
  std::string_view referrer;    // meaningful when combined
  std::string_view user_agent;  // meaningful when combined
};

struct AccessLogParseError {
  const char* what = "";  // static text: "bad month in the timestamp"
  size_t offset = 0;      // byte offset in the line where the problem was found
};

// Parses one line. On failure returns false with `error` set; `out` is then unspecified.
bool ParseAccessLogLine(std::string_view line, AccessLogLine& out, AccessLogParseError& error);

// "bad month in the timestamp at byte 17 near 'Foo/2000:13:55:36 -07'": for the record's
// error message. Bounded in length whatever the line; non-printable bytes are shown as \xHH.
std::string DescribeAccessLogParseError(std::string_view line, const AccessLogParseError& error);

}  // namespace tideline::pipeline
