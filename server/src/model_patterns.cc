#include "model_patterns.h"

namespace tideline::server::model {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '_' || c == '.' ||
         c == '-';
}

// Java's \s without UNICODE_CHARACTER_CLASS: [ \t\n\x0B\f\r].
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\x0B' || c == '\f' || c == '\r';
}

// `.` does not match a line terminator; every other part of the ARN patterns rejects them too,
// so a value holding one never matches.
bool HasLineTerminator(std::string_view s) {
  return s.find_first_of("\n\r") != std::string_view::npos;
}

// 0|([1-9]\d{0,max_digits-1})
bool MatchesDecimal(std::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return false;
  if (s == "0") return true;
  if (s[0] < '1' || s[0] > '9') return false;
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

bool MatchesName(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// ":" \d{12} ":" at `pos`.
bool AccountAt(std::string_view s, size_t pos) {
  if (pos + 14 > s.size() || s[pos] != ':' || s[pos + 13] != ':') return false;
  for (size_t i = pos + 1; i < pos + 13; ++i) {
    if (!IsDigit(s[i])) return false;
  }
  return true;
}

bool NonSpaceNonEmpty(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (IsSpace(c)) return false;
  }
  return true;
}

// The common head "arn:aws.*:kinesis:.*" of the ARN patterns: the position where the `.*` after
// ":kinesis:" starts (the earliest ":kinesis:" leaves the most room for what follows, and `.*`
// accepts anything but line terminators), or npos.
size_t AfterKinesis(std::string_view s) {
  if (s.substr(0, 7) != "arn:aws" || HasLineTerminator(s)) return std::string_view::npos;
  const size_t k = s.find(":kinesis:", 7);
  return k == std::string_view::npos ? k : k + 9;
}

// arn:aws.*:kinesis:.*:\d{12}:stream/\S+
bool MatchesStreamArn(std::string_view s) {
  const size_t from = AfterKinesis(s);
  if (from == std::string_view::npos) return false;
  for (size_t j = from; j + 21 < s.size(); ++j) {
    if (AccountAt(s, j) && s.substr(j + 14, 7) == "stream/" && NonSpaceNonEmpty(s.substr(j + 21)))
      return true;
  }
  return false;
}

// The earliest ":\d{12}:" at or after `from` (npos if none): the end of the account part.
size_t FirstAccountEnd(std::string_view s, size_t from) {
  for (size_t j = from; j + 14 <= s.size(); ++j) {
    if (AccountAt(s, j)) return j + 14;
  }
  return std::string_view::npos;
}

// arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+
bool MatchesResourceArn(std::string_view s) {
  const size_t from = AfterKinesis(s);
  if (from == std::string_view::npos) return false;
  const size_t after_account = FirstAccountEnd(s, from);
  if (after_account == std::string_view::npos) return false;
  for (size_t k = s.find("stream/", after_account); k != std::string_view::npos;
       k = s.find("stream/", k + 1)) {
    if (NonSpaceNonEmpty(s.substr(k + 7))) return true;
  }
  return false;
}

// ^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+
// The tail is fixed by its character classes: digits after the last ':', a consumer name after
// the last '/', "/consumer/" before it and a stream name back to the previous '/'.
bool MatchesConsumerArn(std::string_view s) {
  const size_t from = AfterKinesis(s);
  if (from == std::string_view::npos) return false;
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == s.size()) return false;
  for (size_t i = colon + 1; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
  }
  const size_t slash = s.rfind('/', colon);
  if (slash == std::string_view::npos || !MatchesName(s.substr(slash + 1, colon - slash - 1)))
    return false;
  constexpr std::string_view kConsumer = "/consumer/";
  if (slash + 1 < kConsumer.size()) return false;
  const size_t consumer = slash + 1 - kConsumer.size();
  if (s.substr(consumer, kConsumer.size()) != kConsumer) return false;
  const size_t stream_slash = consumer == 0 ? std::string_view::npos : s.rfind('/', consumer - 1);
  if (stream_slash == std::string_view::npos ||
      !MatchesName(s.substr(stream_slash + 1, consumer - stream_slash - 1)))
    return false;
  // "stream" ends at stream_slash; the `.*` before it starts after the account.
  if (stream_slash < 6 || s.substr(stream_slash - 6, 6) != "stream") return false;
  const size_t after_account = FirstAccountEnd(s, from);
  return after_account != std::string_view::npos && after_account <= stream_slash - 6;
}

// [a-z0-9]{20}-[a-z0-9]{3}
bool MatchesStreamId(std::string_view s) {
  if (s.size() != 24 || s[20] != '-') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 20) continue;
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || IsDigit(c))) return false;
  }
  return true;
}

}  // namespace

bool MatchesPattern(Pattern pattern, std::string_view value) {
  switch (pattern) {
    case Pattern::kNone:
      return true;
    case Pattern::kName:
      return MatchesName(value);
    case Pattern::kHashKey:
      return MatchesDecimal(value, 39);
    case Pattern::kSequenceNumber:
      return MatchesDecimal(value, 129);
    case Pattern::kStreamArn:
      return MatchesStreamArn(value);
    case Pattern::kResourceArn:
      return MatchesResourceArn(value);
    case Pattern::kConsumerArn:
      return MatchesConsumerArn(value);
    case Pattern::kStreamId:
      return MatchesStreamId(value);
  }
  return false;
}

size_t Utf16Length(std::string_view utf8) {
  size_t n = 0;
  for (char c : utf8) {
    const auto b = static_cast<unsigned char>(c);
    if ((b & 0xC0) != 0x80) ++n;  // a lead byte starts one code point ...
    if (b >= 0xF0) ++n;           // ... and one outside the BMP takes a surrogate pair
  }
  return n;
}

}  // namespace tideline::server::model
