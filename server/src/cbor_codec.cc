#include "cbor_codec.h"

#include <cbor.h>

#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/writer.h>

#include "common/base64.h"
#include "common/json_write.h"
#include "common/utf8.h"
#include "errors.h"

namespace tideline::server::cbor {

bool IsCborContentType(std::string_view content_type) {
  const std::string_view type = content_type.substr(0, content_type.find(';'));
  const size_t end = type.find_last_not_of(" \t");
  return end != std::string_view::npos && type.substr(0, end + 1) == kContentType;
}

namespace {

// ---- Decoding: libcbor's streaming decoder drives a JSON writer, one item at a time. -------

class Decoder {
 public:
  Decoder(std::string_view body, const DecodeLimits& limits)
      : body_(body), limits_(limits), writer_(out_) {
    out_.Reserve(body.size() / 3 * 4 + 64);
  }

  Result<std::string> Run() {
    const auto* data = reinterpret_cast<const unsigned char*>(body_.data());
    if (body_.empty()) return Fail(0, "empty CBOR body");
    while (error_.empty() && !finished_) {
      if (pos_ >= body_.size()) return Fail(pos_, "truncated CBOR item");
      item_start_ = pos_;
      const cbor_decoder_result r =
          cbor_stream_decode(data + pos_, body_.size() - pos_, &kCallbacks, this);
      if (r.status == CBOR_DECODER_NEDATA) {
        return Fail(item_start_, "truncated CBOR item (a length beyond the body)");
      }
      if (r.status != CBOR_DECODER_FINISHED) return Fail(item_start_, "malformed CBOR item");
      pos_ += r.read;
    }
    if (!error_.empty()) return Fail(item_start_, error_);
    if (pos_ != body_.size()) return Fail(pos_, "trailing bytes after the CBOR item");
    return out_.Take();
  }

 private:
  struct Frame {
    bool map = false;
    bool indefinite = false;
    uint64_t remaining = 0;  // definite: items (keys and values) still to come
    bool expect_key = false;
  };
  enum class Chunked { kNone, kBytes, kText };

  static Status Fail(size_t offset, std::string_view what) {
    return Status::InvalidArgument(fmt::format("Invalid CBOR at byte {}: {}", offset, what));
  }
  void Error(std::string what) {
    if (error_.empty()) error_ = std::move(what);
  }
  size_t BytesLeft() const { return body_.size() - pos_; }

  // Checks that an item of this kind may start here; false (with an error set) if not.
  bool BeginItem(bool is_text, bool is_string_chunk = false) {
    if (!error_.empty() || finished_) return false;
    if (chunked_ != Chunked::kNone && !is_string_chunk) {
      Error("an indefinite-length string holds a non-string chunk");
      return false;
    }
    if (tag1_ && !is_string_chunk) {
      // Numbers clear the tag before calling here; anything else under tag 1 is wrong.
      Error("tag 1 (epoch time) on a non-number");
      return false;
    }
    if (!stack_.empty() && stack_.back().map && stack_.back().expect_key && !is_text &&
        chunked_ == Chunked::kNone) {
      Error("a map key that is not a text string");
      return false;
    }
    return true;
  }
  bool AtKey() const { return !stack_.empty() && stack_.back().map && stack_.back().expect_key; }
  bool CountValue() {
    if (++values_ > limits_.max_values) {
      Error(fmt::format("more than {} values", limits_.max_values));
      return false;
    }
    return true;
  }

  // One item (a scalar, a string, or a closed container) is complete: advance its parent.
  void ItemDone() {
    while (true) {
      if (stack_.empty()) {
        finished_ = true;
        return;
      }
      Frame& f = stack_.back();
      if (f.map) f.expect_key = !f.expect_key;
      if (f.indefinite || --f.remaining > 0) return;
      if (f.map) {
        writer_.EndObject();
      } else {
        writer_.EndArray();
      }
      stack_.pop_back();
    }
  }

  void Scalar(auto&& write) {
    if (!BeginItem(false) || !CountValue()) return;
    write();
    ItemDone();
  }

  void Unsigned(uint64_t v) {
    if (tag1_) {
      tag1_ = false;
      return Millis(false, v);
    }
    Scalar([&] { writer_.Uint64(v); });
  }
  // -1 - v
  void Negative(uint64_t v) {
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Error("a negative integer below -2^63");
    }
    if (tag1_) {
      tag1_ = false;
      return Millis(true, v + 1);
    }
    Scalar([&] { writer_.Int64(-1 - static_cast<int64_t>(v)); });
  }
  // Epoch milliseconds (magnitude `ms`) as the handlers' epoch seconds, exactly: "s.fff".
  void Millis(bool negative, uint64_t ms) {
    Scalar([&] {
      const std::string text =
          fmt::format("{}{}.{:03}", negative ? "-" : "", ms / 1000, static_cast<int>(ms % 1000));
      writer_.RawValue(text.data(), text.size(), rapidjson::kNumberType);
    });
  }
  void Float(double v) {
    if (!std::isfinite(v)) return Error("NaN or infinity");
    const bool millis = tag1_;
    tag1_ = false;
    Scalar([&] { writer_.Double(millis ? v / 1000.0 : v); });
  }

  // A complete byte or text string (definite, or the chunks of an indefinite one).
  void StringValue(bool text, std::string_view s) {
    if (text && !IsValidUtf8(s)) return Error("a text string that is not UTF-8");
    if (AtKey()) {
      writer_.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      ItemDone();
      return;
    }
    if (!CountValue()) return;
    if (text) {
      writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    } else {
      // RawValue with no bytes writes the separator; the base64 text then goes straight into
      // the output (the writer keeps no state about what follows its last token).
      writer_.RawValue("", 0, rapidjson::kStringType);
      const size_t n = Base64EncodedSize(s.size());
      char* slot = out_.Push(n + 2);
      slot[0] = '"';
      Base64Encode(s, slot + 1);
      slot[n + 1] = '"';
    }
    ItemDone();
  }
  void DefiniteString(bool text, std::string_view s) {
    if (chunked_ != Chunked::kNone) {
      if ((chunked_ == Chunked::kText) != text) {
        return Error("an indefinite-length string holds a chunk of the other string type");
      }
      chunks_.append(s);
      return;
    }
    if (!BeginItem(text)) return;
    StringValue(text, s);
  }
  void StringStart(bool text) {
    if (chunked_ != Chunked::kNone) return Error("a string chunk that is itself indefinite");
    if (!BeginItem(text)) return;
    chunked_ = text ? Chunked::kText : Chunked::kBytes;
    chunks_.clear();
  }

  void ContainerStart(bool map, bool indefinite, uint64_t count) {
    if (!BeginItem(false) || !CountValue()) return;
    if (stack_.size() >= limits_.max_depth) {
      return Error(fmt::format("nesting deeper than {}", limits_.max_depth));
    }
    // Every item takes at least one byte after this head's: a count beyond the bytes left is a
    // lie, refused before it can size anything.
    const uint64_t items = map ? count * 2 : count;
    const size_t left = BytesLeft() - 1;
    if (!indefinite && (count > left || items > left)) {
      return Error("a container count beyond the body");
    }
    if (map) {
      writer_.StartObject();
    } else {
      writer_.StartArray();
    }
    if (!indefinite && count == 0) {
      if (map) {
        writer_.EndObject();
      } else {
        writer_.EndArray();
      }
      return ItemDone();
    }
    stack_.push_back(Frame{map, indefinite, items, map});
  }

  void Break() {
    if (!error_.empty()) return;
    if (chunked_ != Chunked::kNone) {
      const bool text = chunked_ == Chunked::kText;
      chunked_ = Chunked::kNone;
      return StringValue(text, chunks_);
    }
    if (tag1_) return Error("tag 1 (epoch time) on a break");
    if (stack_.empty() || !stack_.back().indefinite) return Error("a break outside of any map");
    const Frame f = stack_.back();
    if (f.map && !f.expect_key) return Error("a map with a key and no value");
    if (f.map) {
      writer_.EndObject();
    } else {
      writer_.EndArray();
    }
    stack_.pop_back();
    ItemDone();
  }

  void Tag(uint64_t tag) {
    if (!error_.empty()) return;
    if (chunked_ != Chunked::kNone) return Error("a tag inside an indefinite-length string");
    if (tag1_) return Error("a tag under tag 1 (epoch time)");
    if (AtKey()) return Error("a tagged map key");
    // Tag 1 marks epoch milliseconds; other tags carry nothing the API uses (as for Jackson's
    // CBOR parser, which the SDKs use).
    if (tag == 1) tag1_ = true;
  }

  void Simple(std::string_view what, auto&& write) {
    if (tag1_) return Error("tag 1 (epoch time) on a non-number");
    if (what.empty()) {
      Scalar(write);
    } else {
      Error(std::string(what));
    }
  }

  static Decoder& Self(void* ctx) { return *static_cast<Decoder*>(ctx); }
  static std::string_view View(cbor_data data, size_t n) {
    return {reinterpret_cast<const char*>(data), n};
  }
  static const cbor_callbacks kCallbacks;

  std::string_view body_;
  DecodeLimits limits_;
  json::StringOutput out_;
  rapidjson::Writer<json::StringOutput> writer_;
  std::vector<Frame> stack_;
  size_t pos_ = 0;         // start of the next item
  size_t item_start_ = 0;  // start of the item being decoded, for messages
  size_t values_ = 0;
  bool finished_ = false;
  bool tag1_ = false;  // the next item is under tag 1
  Chunked chunked_ = Chunked::kNone;
  std::string chunks_;  // the chunks of the indefinite-length string being read
  std::string error_;   // the first error; decoding stops at it
};

const cbor_callbacks Decoder::kCallbacks = {
    .uint8 = [](void* c, uint8_t v) { Self(c).Unsigned(v); },
    .uint16 = [](void* c, uint16_t v) { Self(c).Unsigned(v); },
    .uint32 = [](void* c, uint32_t v) { Self(c).Unsigned(v); },
    .uint64 = [](void* c, uint64_t v) { Self(c).Unsigned(v); },
    .negint64 = [](void* c, uint64_t v) { Self(c).Negative(v); },
    .negint32 = [](void* c, uint32_t v) { Self(c).Negative(v); },
    .negint16 = [](void* c, uint16_t v) { Self(c).Negative(v); },
    .negint8 = [](void* c, uint8_t v) { Self(c).Negative(v); },
    .byte_string_start = [](void* c) { Self(c).StringStart(false); },
    .byte_string = [](void* c, cbor_data d,
                      size_t n) { Self(c).DefiniteString(false, View(d, n)); },
    .string = [](void* c, cbor_data d, size_t n) { Self(c).DefiniteString(true, View(d, n)); },
    .string_start = [](void* c) { Self(c).StringStart(true); },
    .indef_array_start = [](void* c) { Self(c).ContainerStart(false, true, 0); },
    .array_start = [](void* c, size_t n) { Self(c).ContainerStart(false, false, n); },
    .indef_map_start = [](void* c) { Self(c).ContainerStart(true, true, 0); },
    .map_start = [](void* c, size_t n) { Self(c).ContainerStart(true, false, n); },
    .tag = [](void* c, uint64_t t) { Self(c).Tag(t); },
    .float2 = [](void* c, float v) { Self(c).Float(v); },
    .float4 = [](void* c, float v) { Self(c).Float(v); },
    .float8 = [](void* c, double v) { Self(c).Float(v); },
    .undefined = [](void* c) { Self(c).Simple("undefined has no JSON form", [] {}); },
    .null = [](void* c) { Self(c).Simple({}, [c] { Self(c).writer_.Null(); }); },
    .boolean = [](void* c, bool v) { Self(c).Simple({}, [c, v] { Self(c).writer_.Bool(v); }); },
    .indef_break = [](void* c) { Self(c).Break(); },
};

// ---- Encoding: the output shapes' blob and timestamp members, as a tree per operation. ----

enum class MemberKind { kOther, kBlob, kTimestamp };

struct ShapeRow {
  std::string_view operation;
  std::string_view path;
  MemberKind kind;
};

constexpr ShapeRow kShapeRows[] = {
#include "cbor_shapes.inc"
};

// A member on the way to a blob or timestamp; members off those paths have no node.
struct ShapeNode {
  std::string_view name;  // member name, "[]" for list elements, "{}" for map values
  MemberKind kind = MemberKind::kOther;
  std::vector<ShapeNode> children;

  const ShapeNode* Child(std::string_view child) const {
    for (const ShapeNode& c : children) {
      if (c.name == child) return &c;
    }
    return nullptr;
  }
};

struct OperationShape {
  std::string_view operation;
  ShapeNode root;
};

std::vector<OperationShape> BuildShapes() {
  std::vector<OperationShape> ops;
  for (const ShapeRow& row : kShapeRows) {
    if (ops.empty() || ops.back().operation != row.operation) ops.push_back({row.operation, {}});
    ShapeNode* node = &ops.back().root;
    std::string_view rest = row.path;
    while (!rest.empty()) {
      const size_t dot = rest.find('.');
      const std::string_view name = rest.substr(0, dot);
      rest = dot == std::string_view::npos ? std::string_view() : rest.substr(dot + 1);
      ShapeNode* next = nullptr;
      for (ShapeNode& c : node->children) {
        if (c.name == name) next = &c;
      }
      if (next == nullptr) next = &node->children.emplace_back(ShapeNode{name, {}, {}});
      node = next;
    }
    node->kind = row.kind;
  }
  return ops;
}

const ShapeNode* OutputShape(std::string_view operation) {
  static const std::vector<OperationShape> kShapes = BuildShapes();
  if (operation.empty()) return nullptr;
  for (const OperationShape& op : kShapes) {
    if (op.operation == operation) return &op.root;
  }
  return nullptr;
}

// Epoch milliseconds of a timestamp member the handlers wrote as epoch seconds (JsonWriter::
// EpochSeconds: "1700000000.123"); nullopt when it is no such number. A double carries 15
// significant digits, so seconds below 9e12 with three decimals convert exactly.
std::optional<int64_t> MillisOf(const rapidjson::Value& v) {
  constexpr int64_t kMaxSeconds = 9'000'000'000'000;
  if (v.IsInt64()) {
    const int64_t s = v.GetInt64();
    if (s > kMaxSeconds || s < -kMaxSeconds) return std::nullopt;
    return s * 1000;
  }
  if (!v.IsDouble()) return std::nullopt;
  const double s = v.GetDouble();
  if (!std::isfinite(s) || std::fabs(s) > static_cast<double>(kMaxSeconds)) return std::nullopt;
  return std::llround(s * 1000.0);
}

// Appends CBOR heads (through libcbor's encoders) and payloads.
class CborOut {
 public:
  explicit CborOut(size_t reserve) { buf_.reserve(reserve); }
  template <typename Fn, typename... Args>
  void Head(Fn fn, Args... args) {
    unsigned char head[9];  // the longest head: 1 + 8 bytes
    buf_.append(reinterpret_cast<const char*>(head), fn(args..., head, sizeof(head)));
  }
  void Text(std::string_view s) {
    Head(cbor_encode_string_start, s.size());
    buf_.append(s);
  }
  void Bytes(std::string_view s) {
    Head(cbor_encode_bytestring_start, s.size());
    buf_.append(s);
  }
  void Integer(int64_t v) {
    if (v >= 0) {
      Head(cbor_encode_uint, static_cast<uint64_t>(v));
    } else {
      Head(cbor_encode_negint, static_cast<uint64_t>(-1 - v));
    }
  }
  std::string Take() { return std::move(buf_); }

 private:
  std::string buf_;
};

// Writes a parsed response document as CBOR, converting the members its shape marks.
class Emitter {
 public:
  explicit Emitter(CborOut& out) : out_(out) {}

  // False when a blob member is not base64, or the document nests deeper than any response.
  bool Value(const rapidjson::Value& v, const ShapeNode* node, int depth) {
    if (depth > kMaxDepth) return false;
    const MemberKind kind = node != nullptr ? node->kind : MemberKind::kOther;
    switch (v.GetType()) {
      case rapidjson::kNullType:
        out_.Head(cbor_encode_null);
        return true;
      case rapidjson::kFalseType:
      case rapidjson::kTrueType:
        out_.Head(cbor_encode_bool, v.IsTrue());
        return true;
      case rapidjson::kStringType:
        return String(std::string_view(v.GetString(), v.GetStringLength()), kind);
      case rapidjson::kNumberType:
        Number(v, kind);
        return true;
      case rapidjson::kArrayType: {
        out_.Head(cbor_encode_array_start, size_t{v.Size()});
        const ShapeNode* element = node != nullptr ? node->Child("[]") : nullptr;
        for (const rapidjson::Value& e : v.GetArray()) {
          if (!Value(e, element, depth + 1)) return false;
        }
        return true;
      }
      case rapidjson::kObjectType: {
        out_.Head(cbor_encode_map_start, size_t{v.MemberCount()});
        const ShapeNode* map_value = node != nullptr ? node->Child("{}") : nullptr;
        for (const auto& m : v.GetObject()) {
          const std::string_view key(m.name.GetString(), m.name.GetStringLength());
          out_.Text(key);
          const ShapeNode* member =
              map_value != nullptr ? map_value : (node != nullptr ? node->Child(key) : nullptr);
          if (!Value(m.value, member, depth + 1)) return false;
        }
        return true;
      }
    }
    return false;
  }

 private:
  static constexpr int kMaxDepth = 64;

  bool String(std::string_view s, MemberKind kind) {
    if (kind != MemberKind::kBlob) {
      out_.Text(s);
      return true;
    }
    scratch_.resize(Base64MaxDecodedSize(s.size()));
    const auto n = Base64Decode(s, scratch_.data());
    if (!n) return false;
    out_.Bytes(std::string_view(scratch_.data(), *n));
    return true;
  }
  void Number(const rapidjson::Value& v, MemberKind kind) {
    if (kind == MemberKind::kTimestamp) {
      if (const auto ms = MillisOf(v)) {
        out_.Head(cbor_encode_tag, uint64_t{1});
        out_.Integer(*ms);
        return;
      }
    }
    if (v.IsInt64()) {
      out_.Integer(v.GetInt64());
    } else if (v.IsUint64()) {
      out_.Head(cbor_encode_uint, v.GetUint64());
    } else {
      out_.Head(cbor_encode_double, v.GetDouble());
    }
  }

  CborOut& out_;
  std::string scratch_;  // a blob's bytes
};
}  // namespace

Result<std::string> DecodeRequest(std::string_view body, const DecodeLimits& limits) {
  Decoder decoder(body, limits);
  return decoder.Run();
}

Result<std::string> EncodeResponse(std::string_view operation, std::string_view json) {
  // Parsed in place from a copy (strings stay where they are, no per-string allocation): one
  // pass, and each container's size is known before its CBOR head is written.
  std::string text(json);
  rapidjson::Document doc;
  doc.ParseInsitu<rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag>(text.data());
  if (doc.HasParseError()) return Status::Internal("a response body that is not JSON");
  CborOut out(json.size() + 16);
  Emitter emitter(out);
  if (!emitter.Value(doc, OutputShape(operation), 1)) {
    return Status::Internal(
        fmt::format("a {} response member that does not fit its CBOR shape", operation));
  }
  return out.Take();
}

ApiResponse ToCborResponse(std::string_view operation, ApiResponse resp) {
  // An event stream (SubscribeToShard) is framed by the stream itself, its events in CBOR.
  if (resp.stream) return resp;
  Result<std::string> body =
      EncodeResponse(resp.error_type.empty() ? operation : std::string_view(), resp.body);
  if (!body.ok()) {
    ApiResponse failure = MakeError(ApiErrorType::kInternalFailure, body.status().message());
    body = EncodeResponse({}, failure.body);
    resp = std::move(failure);
  }
  // MakeError's bodies are JSON written by us, so the second encode cannot fail; an empty map
  // keeps the answer well-formed all the same.
  resp.body = body.ok() ? std::move(body.value()) : std::string("\xa0", 1);
  resp.content_type = std::string(kContentType);
  return resp;
}

}  // namespace tideline::server::cbor
