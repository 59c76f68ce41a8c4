#include "auth_resource.h"

#include <rapidjson/document.h>

#include <cstring>

#include "json_util.h"

namespace tideline::server {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : t_(text) {}

  void SkipSpace() {
    while (i_ < t_.size() && IsSpace(t_[i_]))
      ++i_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return i_ < t_.size() && t_[i_] == c;
  }
  // A string starting at '"': its raw content; `escaped` when it holds a backslash.
  bool String(std::string_view* out, bool* escaped) {
    if (!Eat('"')) return false;
    const size_t start = i_;
    if (!SkipStringBody()) return false;
    *out = t_.substr(start, i_ - 1 - start);
    *escaped = out->find('\\') != std::string_view::npos;
    return true;
  }
  // Skips one value of any kind (nested objects and arrays by depth). Record data is almost all
  // inside strings, which memchr crosses at memory speed.
  bool SkipValue() {
    SkipSpace();
    if (i_ >= t_.size()) return false;
    if (t_[i_] == '"') {
      ++i_;
      return SkipStringBody();
    }
    if (t_[i_] == '{' || t_[i_] == '[') {
      int depth = 0;
      while (i_ < t_.size()) {
        const char c = t_[i_++];
        if (c == '"') {
          if (!SkipStringBody()) return false;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if ((c == '}' || c == ']') && --depth == 0) {
          return true;
        }
      }
      return false;
    }
    while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && !IsSpace(t_[i_]))
      ++i_;
    return true;
  }

 private:
  // From just after an opening quote to just after its closing quote.
  bool SkipStringBody() {
    while (i_ < t_.size()) {
      const void* hit = std::memchr(t_.data() + i_, '"', t_.size() - i_);
      if (hit == nullptr) return false;
      const size_t quote = static_cast<size_t>(static_cast<const char*>(hit) - t_.data());
      // The quote is escaped when an odd number of backslashes precede it.
      size_t backslashes = 0;
      while (quote - backslashes > i_ && t_[quote - backslashes - 1] == '\\')
        ++backslashes;
      i_ = quote + 1;
      if (backslashes % 2 == 0) return true;
    }
    return false;
  }

  std::string_view t_;
  size_t i_ = 0;
};

std::optional<std::string>* Slot(StreamMembers& m, std::string_view key) {
  if (key == "StreamName") return &m.stream_name;
  if (key == "StreamARN") return &m.stream_arn;
  if (key == "ShardIterator") return &m.shard_iterator;
  if (key == "ConsumerARN") return &m.consumer_arn;
  return nullptr;
}

// The slow path, for bodies with escapes: what the handler itself will see.
StreamMembers FullParse(std::string_view body) {
  StreamMembers m;
  rapidjson::Document doc;
  if (ParseJsonObject(doc, body)) return m;
  const rapidjson::Value& object = doc;
  for (const char* key : {"StreamName", "StreamARN", "ShardIterator", "ConsumerARN"}) {
    const auto it = object.FindMember(key);
    if (it != object.MemberEnd() && it->value.IsString()) {
      *Slot(m, key) = std::string(it->value.GetString(), it->value.GetStringLength());
    }
  }
  return m;
}

}  // namespace

StreamMembers FindStreamMembers(std::string_view body) {
  StreamMembers m;
  // A member seen first with a non-string value stays absent, as the handler sees it.
  bool seen[4] = {false, false, false, false};
  const auto index = [](std::string_view key) {
    return key == "StreamName" ? 0 : key == "StreamARN" ? 1 : key == "ShardIterator" ? 2 : 3;
  };
  Scanner s(body);
  if (!s.Eat('{')) return m;
  if (s.Eat('}')) return m;
  for (;;) {
    std::string_view key;
    bool key_escaped = false;
    if (!s.String(&key, &key_escaped)) return {};
    if (key_escaped) return FullParse(body);
    if (!s.Eat(':')) return {};
    std::optional<std::string>* slot = Slot(m, key);
    const bool first = slot != nullptr && !seen[index(key)];
    if (first) seen[index(key)] = true;
    if (first && s.Peek('"')) {
      std::string_view value;
      bool escaped = false;
      if (!s.String(&value, &escaped)) return {};
      if (escaped) return FullParse(body);
      *slot = std::string(value);
    } else if (!s.SkipValue()) {
      return {};
    }
    if (s.Eat(',')) continue;
    if (s.Eat('}')) return m;
    return {};
  }
}

}  // namespace tideline::server
