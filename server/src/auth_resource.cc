#include "auth_resource.h"

#include <rapidjson/document.h>

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
    *escaped = false;
    while (i_ < t_.size()) {
      const char c = t_[i_];
      if (c == '"') {
        *out = t_.substr(start, i_ - start);
        ++i_;
        return true;
      }
      if (c == '\\') {
        *escaped = true;
        i_ += 2;
        continue;
      }
      ++i_;
    }
    return false;
  }
  // Skips one value of any kind (nested objects and arrays by depth).
  bool SkipValue() {
    SkipSpace();
    if (i_ >= t_.size()) return false;
    if (t_[i_] == '"') {
      std::string_view s;
      bool escaped = false;
      return String(&s, &escaped);
    }
    if (t_[i_] == '{' || t_[i_] == '[') {
      int depth = 0;
      while (i_ < t_.size()) {
        const char c = t_[i_];
        if (c == '"') {
          std::string_view s;
          bool escaped = false;
          if (!String(&s, &escaped)) return false;
          continue;
        }
        if (c == '{' || c == '[') ++depth;
        if (c == '}' || c == ']') {
          if (--depth == 0) {
            ++i_;
            return true;
          }
        }
        ++i_;
      }
      return false;
    }
    while (i_ < t_.size() && t_[i_] != ',' && t_[i_] != '}' && !IsSpace(t_[i_]))
      ++i_;
    return true;
  }

 private:
  std::string_view t_;
  size_t i_ = 0;
};

std::optional<std::string>* Slot(StreamMembers& m, std::string_view key) {
  if (key == "StreamName") return &m.stream_name;
  if (key == "StreamARN") return &m.stream_arn;
  if (key == "ShardIterator") return &m.shard_iterator;
  return nullptr;
}

// The slow path, for bodies with escapes: what the handler itself will see.
StreamMembers FullParse(std::string_view body) {
  StreamMembers m;
  rapidjson::Document doc;
  if (ParseJsonObject(doc, body)) return m;
  for (const char* key : {"StreamName", "StreamARN", "ShardIterator"}) {
    const auto it = doc.FindMember(key);
    if (it != doc.MemberEnd() && it->value.IsString()) {
      *Slot(m, key) = std::string(it->value.GetString(), it->value.GetStringLength());
    }
  }
  return m;
}

}  // namespace

StreamMembers FindStreamMembers(std::string_view body) {
  StreamMembers m;
  // A member seen first with a non-string value stays absent, as the handler sees it.
  bool seen[3] = {false, false, false};
  const auto index = [](std::string_view key) {
    return key == "StreamName" ? 0 : key == "StreamARN" ? 1 : 2;
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
