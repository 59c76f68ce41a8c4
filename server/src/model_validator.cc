#include "model_validator.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/base64.h"
#include "errors.h"
#include "model_patterns.h"

namespace tideline::server {
namespace {

using model::Member;
using model::Shape;
using model::Type;
using rapidjson::Value;

constexpr size_t kMaxReported = 10;

constexpr std::string_view kListFound = "Start of list found where not expected";
constexpr std::string_view kStructureFound = "Start of structure or map found where not expected.";
constexpr std::string_view kNumberClass =
    "class com.amazon.coral.value.json.numbers.TruncatingBigNumber";

// Where a value sits, as AWS spells it: "records.3.member.partitionKey". Built on the stack as
// the walk descends and spelled out only for a failure.
struct PathNode {
  const PathNode* parent = nullptr;
  std::string_view name;  // a member; empty for a list entry
  size_t index = 0;       // a list entry: its 1-based position
};

void AppendPath(std::string& out, const PathNode* node) {
  if (node == nullptr) return;
  AppendPath(out, node->parent);
  if (!out.empty()) out.push_back('.');
  if (node->name.empty()) {
    fmt::format_to(std::back_inserter(out), "{}.member", node->index);
  } else {
    out.append(node->name);
  }
}

// 0 for a character outside the base64 alphabet, 1 inside it, 2 for the pad '='.
constexpr std::array<uint8_t, 256> kBase64Class = [] {
  std::array<uint8_t, 256> t{};
  for (int c = 'A'; c <= 'Z'; ++c)
    t[c] = 1;
  for (int c = 'a'; c <= 'z'; ++c)
    t[c] = 1;
  for (int c = '0'; c <= '9'; ++c)
    t[c] = 1;
  t['+'] = 1;
  t['/'] = 1;
  t['='] = 2;
  return t;
}();

// The code point starting at s[i] (a whole UTF-8 sequence), for quoting a bad character.
std::string_view CharAt(std::string_view s, size_t i) {
  size_t n = 1;
  while (i + n < s.size() && (static_cast<unsigned char>(s[i + n]) & 0xC0) == 0x80)
    ++n;
  return s.substr(i, n);
}

// Coral's base64 rules for a blob member; the error message, or nullopt when `b64` is canonical.
std::optional<std::string> Base64Error(std::string_view b64) {
  // The common strict decoder accepts exactly what Coral does; its check is the fast path.
  if (Base64IsValid(b64)) return std::nullopt;
  if (b64.size() % 4 != 0) {
    return fmt::format(
        "'{}' can not be converted to a Blob: Base64 encoded length is expected a "
        "multiple of 4 bytes but found: {}",
        b64, b64.size());
  }
  const size_t n = b64.size();
  for (size_t i = 0; i < n; ++i) {
    const uint8_t cls = kBase64Class[static_cast<unsigned char>(b64[i])];
    if (cls == 1) continue;
    if (cls == 0 || (i + 1 < n && b64[i + 1] != '=')) {
      return fmt::format("'{}' can not be converted to a Blob: Invalid Base64 character: '{}'", b64,
                         CharAt(b64, i));
    }
  }
  // Only trailing pads are left: too many of them, or a last data character carrying bits past
  // the data.
  return fmt::format(
      "'{}' can not be converted to a Blob: Invalid last non-pad Base64 character "
      "dectected",
      b64);
}

size_t Base64DecodedLength(std::string_view b64) {
  size_t pads = 0;
  while (pads < b64.size() && pads < 2 && b64[b64.size() - 1 - pads] == '=')
    ++pads;
  return b64.size() / 4 * 3 - pads;
}

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kInteger:
      return "Integer";
    case Type::kLong:
      return "Long";
    case Type::kBoolean:
      return "Boolean";
    default:
      return "String";
  }
}

bool IsBooleanWord(std::string_view s) {
  auto eq = [&](std::string_view word) {
    if (s.size() != word.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(s[i])) != word[i]) return false;
    }
    return true;
  };
  return eq("true") || eq("false") || eq("1") || eq("0") || eq("yes") || eq("no");
}

// The SerializationException message for a scalar of the wrong JSON type, or nullopt.
std::optional<std::string> ScalarTypeError(const Shape& shape, const Value& v) {
  if (v.IsArray()) return std::string(kListFound);
  if (v.IsObject()) return std::string(kStructureFound);
  switch (shape.type) {
    case Type::kString:
      if (v.IsString()) return std::nullopt;
      return fmt::format("{} can not be converted to an String",
                         v.IsBool() ? "class java.lang.Boolean" : kNumberClass);
    case Type::kInteger:
    case Type::kLong:
      if (v.IsNumber()) return std::nullopt;
      return fmt::format("class java.lang.{} can not be converted to an {}",
                         v.IsBool() ? "Boolean" : "String", TypeName(shape.type));
    case Type::kBoolean: {
      if (v.IsBool()) return std::nullopt;
      if (v.IsNumber()) return fmt::format("{} can not be converted to an Boolean", kNumberClass);
      const std::string_view s(v.GetString(), v.GetStringLength());
      if (IsBooleanWord(s)) return std::nullopt;
      std::string upper(s);
      for (char& c : upper)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      return fmt::format("'{}' can not be converted to an Boolean", upper);
    }
    case Type::kBlob:
      if (v.IsString()) return Base64Error(std::string_view(v.GetString(), v.GetStringLength()));
      return fmt::format("{} can not be converted to a Blob",
                         v.IsBool() ? "class java.lang.Boolean" : kNumberClass);
    case Type::kTimestamp:
      if (v.IsNumber()) return std::nullopt;
      return fmt::format("class java.lang.{} can not be converted to milliseconds since epoch",
                         v.IsBool() ? "Boolean" : "String");
    case Type::kStructure:
    case Type::kList:
    case Type::kMap:
      break;
  }
  return std::nullopt;
}

std::string JoinEnum(const Shape& shape) {
  std::string out = "[";
  bool first = true;
  for (std::string_view value : model::EnumOf(shape)) {
    if (!first) out += ", ";
    out += value;
    first = false;
  }
  out += "]";
  return out;
}

// Calls fail(constraint) for each constraint a type-correct scalar breaks, in AWS's order.
template <typename Fail>
void CheckScalarConstraints(const Shape& shape, const Value& v, Fail&& fail) {
  switch (shape.type) {
    case Type::kString: {
      const std::string_view s(v.GetString(), v.GetStringLength());
      if (shape.pattern != model::Pattern::kNone && !model::MatchesPattern(shape.pattern, s)) {
        fail(fmt::format("Member must satisfy regular expression pattern: {}", shape.pattern_text));
      }
      if (shape.has_min || shape.has_max) {
        // UTF-16 units never exceed bytes, and are at least a third of them: count only when
        // the byte length cannot decide.
        const bool may_be_short = shape.has_min && s.size() < 3 * static_cast<size_t>(shape.min);
        const bool may_be_long = shape.has_max && s.size() > static_cast<size_t>(shape.max);
        if (may_be_short || may_be_long) {
          const auto n = static_cast<int64_t>(model::Utf16Length(s));
          if (shape.has_min && n < shape.min)
            fail(fmt::format("Member must have length greater than or equal to {}", shape.min));
          if (shape.has_max && n > shape.max)
            fail(fmt::format("Member must have length less than or equal to {}", shape.max));
        }
      }
      if (shape.count > 0) {
        bool known = false;
        for (std::string_view value : model::EnumOf(shape))
          known = known || value == s;
        if (!known) fail(fmt::format("Member must satisfy enum value set: {}", JoinEnum(shape)));
      }
      return;
    }
    case Type::kInteger:
    case Type::kLong: {
      const int64_t n = ModelInteger(v, shape.type == Type::kLong);
      if (shape.has_min && n < shape.min)
        fail(fmt::format("Member must have value greater than or equal to {}", shape.min));
      if (shape.has_max && n > shape.max)
        fail(fmt::format("Member must have value less than or equal to {}", shape.max));
      return;
    }
    case Type::kBlob: {
      const auto n = static_cast<int64_t>(
          Base64DecodedLength(std::string_view(v.GetString(), v.GetStringLength())));
      if (shape.has_min && n < shape.min)
        fail(fmt::format("Member must have length greater than or equal to {}", shape.min));
      if (shape.has_max && n > shape.max)
        fail(fmt::format("Member must have length less than or equal to {}", shape.max));
      return;
    }
    default:
      return;
  }
}

// A value as AWS quotes it in a validation message (without the quotes).
std::string Shown(const Shape& shape, const Value& v) {
  switch (shape.type) {
    case Type::kString:
      return std::string(v.GetString(), v.GetStringLength());
    case Type::kInteger:
    case Type::kLong:
      return std::to_string(ModelInteger(v, shape.type == Type::kLong));
    case Type::kBlob: {
      const size_t n = Base64DecodedLength(std::string_view(v.GetString(), v.GetStringLength()));
      return fmt::format("java.nio.HeapByteBuffer[pos=0 lim={} cap={}]", n, n);
    }
    case Type::kBoolean:
      return v.IsBool() ? (v.GetBool() ? "true" : "false")
                        : std::string(v.GetString(), v.GetStringLength());
    case Type::kList: {
      const Shape& element = model::ShapeAt(shape.element);
      std::string out = "[";
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
        if (i > 0) out += ", ";
        if (v[i].IsNull()) {
          out += "null";
        } else if (element.type == Type::kStructure || element.type == Type::kList ||
                   element.type == Type::kMap) {
          out += element.name;  // Coral prints the entry object; its name stands for it
        } else {
          out += Shown(element, v[i]);
        }
      }
      return out + "]";
    }
    case Type::kMap: {
      const Shape& value = model::ShapeAt(shape.element);
      std::string out = "{";
      bool first = true;
      for (const auto& m : v.GetObject()) {
        if (!first) out += ", ";
        first = false;
        out.append(m.name.GetString(), m.name.GetStringLength());
        out += "=";
        out += m.value.IsNull() ? std::string("null") : Shown(value, m.value);
      }
      return out + "}";
    }
    default:
      return {};
  }
}

// The constraints of a list entry's or map key's or value's shape, as AWS lists them when one
// entry breaks them: "[Member must have length less than or equal to 128, Member must have
// length greater than or equal to 1]".
std::string ElementConstraints(const Shape& shape) {
  std::vector<std::string> parts;
  const bool is_number = shape.type == Type::kInteger || shape.type == Type::kLong;
  const std::string_view what = is_number ? "value" : "length";
  if (shape.has_max)
    parts.push_back(fmt::format("Member must have {} less than or equal to {}", what, shape.max));
  if (shape.has_min)
    parts.push_back(
        fmt::format("Member must have {} greater than or equal to {}", what, shape.min));
  if (shape.pattern != model::Pattern::kNone)
    parts.push_back(
        fmt::format("Member must satisfy regular expression pattern: {}", shape.pattern_text));
  if (shape.count > 0 && shape.type == Type::kString)
    parts.push_back(fmt::format("Member must satisfy enum value set: {}", JoinEnum(shape)));
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

bool IsScalar(const Shape& shape) {
  return shape.type != Type::kStructure && shape.type != Type::kList && shape.type != Type::kMap;
}

class Checker {
 public:
  // False when a value has the wrong JSON type (type_error() says which); constraint failures
  // are collected either way.
  bool Structure(const Shape& shape, const Value& obj, const PathNode* node);
  bool Any(const Shape& shape, const Value& v, const PathNode* node);

  const std::string& type_error() const { return type_error_; }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  bool TypeError(std::string message) {
    type_error_ = std::move(message);
    return false;
  }
  void Fail(const PathNode* node, std::string_view shown, std::string_view constraint);
  void Length(const Shape& shape, size_t n, const Value& v, const PathNode* node);
  bool List(const Shape& shape, const Value& v, const PathNode* node);
  bool Map(const Shape& shape, const Value& v, const PathNode* node);

  std::string type_error_;
  std::vector<std::string> errors_;
};

void Checker::Fail(const PathNode* node, std::string_view shown, std::string_view constraint) {
  if (errors_.size() >= kMaxReported) return;
  std::string path;
  AppendPath(path, node);
  errors_.push_back(
      fmt::format("Value {} at '{}' failed to satisfy constraint: {}", shown, path, constraint));
}

bool Checker::Structure(const Shape& shape, const Value& obj, const PathNode* node) {
  for (const Member& member : model::MembersOf(shape)) {
    const auto it = obj.FindMember(rapidjson::StringRef(member.name.data(), member.name.size()));
    const PathNode child{node, member.path, 0};
    if (it == obj.MemberEnd() || it->value.IsNull()) {
      if (member.required) Fail(&child, "null", "Member must not be null");
      continue;
    }
    if (!Any(model::ShapeAt(member.shape), it->value, &child)) return false;
  }
  return true;
}

void Checker::Length(const Shape& shape, size_t n, const Value& v, const PathNode* node) {
  const auto len = static_cast<int64_t>(n);
  if (shape.has_min && len < shape.min) {
    Fail(node, fmt::format("'{}'", Shown(shape, v)),
         fmt::format("Member must have length greater than or equal to {}", shape.min));
  }
  if (shape.has_max && len > shape.max) {
    Fail(node, fmt::format("'{}'", Shown(shape, v)),
         fmt::format("Member must have length less than or equal to {}", shape.max));
  }
}

bool Checker::List(const Shape& shape, const Value& v, const PathNode* node) {
  if (!v.IsArray())
    return TypeError(std::string(v.IsObject() ? kStructureFound : "Expected list or null"));
  Length(shape, v.Size(), v, node);
  const Shape& element = model::ShapeAt(shape.element);
  const bool scalar = IsScalar(element);
  bool element_failed = false;
  for (rapidjson::SizeType i = 0; i < v.Size(); ++i) {
    const Value& e = v[i];
    if (e.IsNull()) continue;
    if (scalar) {
      if (auto err = ScalarTypeError(element, e)) return TypeError(std::move(*err));
      CheckScalarConstraints(element, e, [&](const std::string&) { element_failed = true; });
      continue;
    }
    const PathNode entry{node, {}, static_cast<size_t>(i) + 1};
    if (!Any(element, e, &entry)) return false;
  }
  if (element_failed) {
    Fail(node, fmt::format("'{}'", Shown(shape, v)),
         fmt::format("Member must satisfy constraint: {}", ElementConstraints(element)));
  }
  return true;
}

bool Checker::Map(const Shape& shape, const Value& v, const PathNode* node) {
  if (!v.IsObject())
    return TypeError(std::string(v.IsArray() ? kListFound : "Expected map or null"));
  Length(shape, v.MemberCount(), v, node);
  const Shape& key = model::ShapeAt(shape.key);
  const Shape& value = model::ShapeAt(shape.element);
  bool key_failed = false;
  bool value_failed = false;
  for (const auto& m : v.GetObject()) {
    CheckScalarConstraints(key, m.name, [&](const std::string&) { key_failed = true; });
    if (m.value.IsNull()) continue;
    if (IsScalar(value)) {
      if (auto err = ScalarTypeError(value, m.value)) return TypeError(std::move(*err));
      CheckScalarConstraints(value, m.value, [&](const std::string&) { value_failed = true; });
    } else if (!Any(value, m.value, node)) {
      return false;
    }
  }
  if (key_failed) {
    Fail(node, fmt::format("'{}'", Shown(shape, v)),
         fmt::format("Map keys must satisfy constraint: {}", ElementConstraints(key)));
  }
  if (value_failed) {
    Fail(node, fmt::format("'{}'", Shown(shape, v)),
         fmt::format("Map value must satisfy constraint: {}", ElementConstraints(value)));
  }
  return true;
}

bool Checker::Any(const Shape& shape, const Value& v, const PathNode* node) {
  switch (shape.type) {
    case Type::kStructure:
      if (!v.IsObject()) return TypeError(std::string(v.IsArray() ? kListFound : "Expected null"));
      return Structure(shape, v, node);
    case Type::kList:
      return List(shape, v, node);
    case Type::kMap:
      return Map(shape, v, node);
    default:
      break;
  }
  if (auto err = ScalarTypeError(shape, v)) return TypeError(std::move(*err));
  CheckScalarConstraints(shape, v, [&](const std::string& constraint) {
    Fail(node, fmt::format("'{}'", Shown(shape, v)), constraint);
  });
  return true;
}

}  // namespace

int64_t ModelInteger(const rapidjson::Value& number, bool is_long) {
  const int64_t lo =
      is_long ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int32_t>::min();
  const int64_t hi =
      is_long ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int32_t>::max();
  if (number.IsInt64()) return std::clamp(number.GetInt64(), lo, hi);
  if (number.IsUint64()) return hi;  // above int64's range
  const double d = std::floor(number.GetDouble());
  if (!(d > static_cast<double>(lo))) return lo;  // also NaN, which strict JSON cannot carry
  if (d >= static_cast<double>(hi)) return hi;
  return static_cast<int64_t>(d);
}

std::optional<ApiResponse> ValidateRequest(const model::Operation& op,
                                           const rapidjson::Value& request) {
  if (op.input < 0) return std::nullopt;
  Checker checker;
  const bool typed = checker.Any(model::ShapeAt(op.input), request, nullptr);
  if (!typed) return MakeError(ApiErrorType::kSerialization, checker.type_error());
  const auto& errors = checker.errors();
  if (errors.empty()) return std::nullopt;
  return MakeError(ApiErrorType::kValidation,
                   fmt::format("{} validation error{} detected: {}", errors.size(),
                               errors.size() == 1 ? "" : "s", fmt::join(errors, "; ")));
}

std::optional<ApiResponse> ValidateRequest(std::string_view operation,
                                           const rapidjson::Value& request) {
  const model::Operation* op = model::FindOperation(operation);
  if (op == nullptr) return std::nullopt;
  return ValidateRequest(*op, request);
}

}  // namespace tideline::server
