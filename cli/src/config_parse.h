// Strict YAML field parsing shared by the configuration sections (private to cli/).
// Every error names the file, the line and the dotted key: "tideline.yaml:7: storage.x: ...".
#pragma once

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <functional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tideline::cli::config_parse {

// Line (1-based) of a node, falling back to another node when the first has no mark.
inline int LineOf(const YAML::Node& node, const YAML::Node& fallback) {
  if (node.IsDefined() && node.Mark().line >= 0) return node.Mark().line + 1;
  if (fallback.IsDefined() && fallback.Mark().line >= 0) return fallback.Mark().line + 1;
  return 1;
}

inline std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "\"" + node.Scalar() + "\"";
    default:
      return "an undefined value";
  }
}

// One key's location and dotted path while its value is being parsed.
struct Field {
  std::string_view file;
  std::string path;  // "storage.durability"
  YAML::Node key;
  YAML::Node value;

  Status Error(const std::string& problem) const {
    std::ostringstream out;
    // The key's line: a block map or list value starts on the line after its key.
    out << file << ":" << LineOf(key, value) << ": " << path << ": " << problem;
    return Status::InvalidArgument(out.str());
  }
};

inline Status ParseString(const Field& f, std::string& out) {
  if (!f.value.IsScalar()) return f.Error("expected a string, got " + Describe(f.value));
  out = f.value.Scalar();
  return Status::Ok();
}

template <typename T>
Status ParseInteger(const Field& f, int64_t min, int64_t max, T& out) {
  const std::string range = "an integer in " + std::to_string(min) + ".." + std::to_string(max);
  if (!f.value.IsScalar()) return f.Error("expected " + range + ", got " + Describe(f.value));
  const std::string& s = f.value.Scalar();
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    return f.Error("expected " + range + ", got " + Describe(f.value));
  }
  if (v < min || v > max) return f.Error("expected " + range + ", got " + s);
  out = static_cast<T>(v);
  return Status::Ok();
}

inline Status ParseChoice(const Field& f, const std::vector<std::string>& choices,
                          std::string& out) {
  std::string joined;
  for (const auto& c : choices)
    joined += (joined.empty() ? "" : ", ") + c;
  if (f.value.IsScalar()) {
    for (const auto& c : choices) {
      if (f.value.Scalar() == c) {
        out = c;
        return Status::Ok();
      }
    }
  }
  return f.Error("expected one of " + joined + ", got " + Describe(f.value));
}

inline Status ParseBool(const Field& f, bool& out) {
  if (f.value.IsScalar()) {
    const std::string& s = f.value.Scalar();
    if (s == "true") {
      out = true;
      return Status::Ok();
    }
    if (s == "false") {
      out = false;
      return Status::Ok();
    }
  }
  return f.Error("expected true or false, got " + Describe(f.value));
}

using FieldParser = std::function<Status(const Field&)>;
using Schema = std::vector<std::pair<std::string, FieldParser>>;

// Parses the map `node` (null means "all defaults") against `schema`; rejects unknown and
// duplicate keys.
inline Status ParseMap(std::string_view file, const std::string& prefix, const YAML::Node& key,
                       const YAML::Node& node, const Schema& schema) {
  const Field self{file, prefix.empty() ? "(top level)" : prefix, key, node};
  if (node.IsNull()) return Status::Ok();
  if (!node.IsMap()) return self.Error("expected a map, got " + Describe(node));
  std::set<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    Field field{file, "", it->first, it->second};
    if (!it->first.IsScalar()) {
      field.path = prefix.empty() ? "(key)" : prefix;
      return field.Error("expected a key name, got " + Describe(it->first));
    }
    const std::string name = it->first.Scalar();
    field.path = prefix.empty() ? name : prefix + "." + name;
    if (!seen.insert(name).second) return field.Error("duplicate key");
    const FieldParser* parser = nullptr;
    std::string known;
    for (const auto& [candidate, p] : schema) {
      if (candidate == name) parser = &p;
      known += (known.empty() ? "" : ", ") + candidate;
    }
    if (parser == nullptr) return field.Error("unknown key (expected one of " + known + ")");
    TL_RETURN_IF_ERROR((*parser)(field));
  }
  return Status::Ok();
}

}  // namespace tideline::cli::config_parse

namespace tideline::pipeline {
struct PipelineOptions;
}
namespace tideline::auth {
struct AuthOptions;
}

namespace tideline::cli::config_parse {

// The `pipelines:` list (config_pipelines.cc).
Status ParsePipelines(std::string_view file, const Field& f,
                      std::vector<pipeline::PipelineOptions>& out);

// The `auth:` section (config_auth.cc); reads the secrets it names.
Status ParseAuth(const Field& f, auth::AuthOptions& out);

}  // namespace tideline::cli::config_parse
