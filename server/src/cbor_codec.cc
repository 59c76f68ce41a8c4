#include "cbor_codec.h"

#include <cbor.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
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
      scratch_.assign(1, '"');
      Base64Append(s, scratch_);
      scratch_.push_back('"');
      writer_.RawValue(scratch_.data(), scratch_.size(), rapidjson::kStringType);
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
  std::string chunks_;   // the chunks of the indefinite-length string being read
  std::string scratch_;  // a base64 value being written
  std::string error_;    // the first error; decoding stops at it
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

// Exact epoch milliseconds from the decimal text of epoch seconds ("1700000000.123", "-5",
// "12.5"); nullopt for exponents or more than three decimals, which JsonWriter::EpochSeconds
// never writes.
std::optional<int64_t> SecondsTextToMillis(std::string_view s) {
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 15 || frac.size() > 3) return std::nullopt;
  int64_t ms = 0;
  for (const char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  for (size_t i = 0; i < 3; ++i) {
    const char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    ms = ms * 10 + (c - '0');
  }
  return negative ? -ms : ms;
}

// Appends CBOR heads (through libcbor's encoders) and payloads.
class CborOut {
 public:
  template <typename Fn, typename... Args>
  void Head(Fn fn, Args... args) {
    const size_t at = buf_.size();
    buf_.resize(at + 9);  // the longest head: 1 + 8 bytes
    const size_t n = fn(args..., reinterpret_cast<unsigned char*>(buf_.data() + at), 9);
    buf_.resize(at + n);
  }
  void Text(std::string_view s) {
    Head(cbor_encode_string_start, s.size());
    buf_.append(s);
  }
  void Integer(int64_t v) {
    if (v >= 0) {
      Head(cbor_encode_uint, static_cast<uint64_t>(v));
    } else {
      Head(cbor_encode_negint, static_cast<uint64_t>(-1 - v));
    }
  }
  std::string& buf() { return buf_; }

 private:
  std::string buf_;
};

// Counts each container's members in document order (CBOR heads carry them up front).
struct CountHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, CountHandler> {
  std::vector<uint32_t> counts;
  std::vector<size_t> open;
  bool Start() {
    open.push_back(counts.size());
    counts.push_back(0);
    return true;
  }
  bool End(rapidjson::SizeType n) {
    counts[open.back()] = n;
    open.pop_back();
    return true;
  }
  bool StartObject() { return Start(); }
  bool EndObject(rapidjson::SizeType n) { return End(n); }
  bool StartArray() { return Start(); }
  bool EndArray(rapidjson::SizeType n) { return End(n); }
};

// Writes the CBOR form of each JSON event, converting the members the shape marks.
class EmitHandler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, EmitHandler> {
 public:
  EmitHandler(const ShapeNode* root, const std::vector<uint32_t>& counts, CborOut& out)
      : root_(root), counts_(counts), out_(out) {}

  bool Null() {
    Value();
    out_.Head(cbor_encode_null);
    return true;
  }
  bool Bool(bool b) {
    Value();
    out_.Head(cbor_encode_bool, b);
    return true;
  }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    const ShapeNode* node = Value();
    const std::string_view text(s, n);
    if (node != nullptr && node->kind == MemberKind::kTimestamp) {
      if (const auto ms = SecondsTextToMillis(text)) {
        out_.Head(cbor_encode_tag, uint64_t{1});
        out_.Integer(*ms);
        return true;
      }
    }
    if (text.find_first_of(".eE") == std::string_view::npos) {
      int64_t i = 0;
      if (std::from_chars(s, s + n, i).ec == std::errc()) {
        out_.Integer(i);
        return true;
      }
      uint64_t u = 0;
      if (std::from_chars(s, s + n, u).ec == std::errc()) {
        out_.Head(cbor_encode_uint, u);
        return true;
      }
    }
    double d = 0;
    if (std::from_chars(s, s + n, d).ec != std::errc()) return false;
    out_.Head(cbor_encode_double, d);
    return true;
  }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    const ShapeNode* node = Value();
    if (node != nullptr && node->kind == MemberKind::kBlob) {
      scratch_.resize(Base64MaxDecodedSize(n));
      const auto size = Base64Decode(std::string_view(s, n), scratch_.data());
      if (!size) return false;
      out_.Head(cbor_encode_bytestring_start, *size);
      out_.buf().append(scratch_.data(), *size);
      return true;
    }
    out_.Text(std::string_view(s, n));
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    Frame& f = stack_.back();
    const std::string_view key(s, n);
    f.member = nullptr;
    if (f.node != nullptr) {
      f.member = f.node->Child("{}");
      if (f.member == nullptr) f.member = f.node->Child(key);
    }
    out_.Text(key);
    return true;
  }
  bool StartObject() { return Start(true); }
  bool StartArray() { return Start(false); }
  bool EndObject(rapidjson::SizeType) { return End(); }
  bool EndArray(rapidjson::SizeType) { return End(); }

 private:
  struct Frame {
    const ShapeNode* node;    // the container's shape node, if on a blob/timestamp path
    const ShapeNode* member;  // object: the node of the member whose key came last
  };

  // The shape node of the value that starts now.
  const ShapeNode* Value() const {
    if (stack_.empty()) return root_;
    const Frame& f = stack_.back();
    if (f.member != nullptr || f.node == nullptr) return f.member;
    return f.node->Child("[]");
  }
  bool Start(bool object) {
    const ShapeNode* node = Value();
    if (next_count_ >= counts_.size()) return false;
    const size_t count = counts_[next_count_++];
    if (object) {
      out_.Head(cbor_encode_map_start, count);
    } else {
      out_.Head(cbor_encode_array_start, count);
    }
    stack_.push_back(Frame{node, nullptr});
    return true;
  }
  bool End() {
    stack_.pop_back();
    return true;
  }

  const ShapeNode* root_;
  const std::vector<uint32_t>& counts_;
  size_t next_count_ = 0;
  CborOut& out_;
  std::vector<Frame> stack_;
  std::string scratch_;
};

}  // namespace

Result<std::string> DecodeRequest(std::string_view body, const DecodeLimits& limits) {
  Decoder decoder(body, limits);
  return decoder.Run();
}

Result<std::string> EncodeResponse(std::string_view operation, std::string_view json) {
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                              rapidjson::kParseNumbersAsStringsFlag |
                              rapidjson::kParseValidateEncodingFlag;
  CountHandler counter;
  rapidjson::Reader reader;
  {
    rapidjson::MemoryStream ms(json.data(), json.size());
    if (reader.Parse<kFlags>(ms, counter).IsError()) {
      return Status::Internal("a response body that is not JSON");
    }
  }
  CborOut out;
  out.buf().reserve(json.size() + 16);
  EmitHandler emit(OutputShape(operation), counter.counts, out);
  rapidjson::MemoryStream ms(json.data(), json.size());
  if (reader.Parse<kFlags>(ms, emit).IsError()) {
    return Status::Internal(
        fmt::format("a {} response member that does not fit its CBOR shape", operation));
  }
  return std::move(out.buf());
}

ApiResponse ToCborResponse(std::string_view operation, ApiResponse resp) {
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
