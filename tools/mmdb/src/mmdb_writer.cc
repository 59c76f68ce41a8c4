#include "mmdb/mmdb_writer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <utility>

namespace tideline::mmdb {
namespace {

// Data section type numbers (spec, "Output Data Section"); 8 and above use the extended form.
enum Type : uint8_t {
  kUtf8String = 2,
  kDouble = 3,
  kUint16 = 5,
  kUint32 = 6,
  kMap = 7,
  kUint64 = 9,
  kArray = 11,
  kBoolean = 14,
};

constexpr uint32_t kDataSectionSeparator = 16;  // 16 zero bytes between tree and data
constexpr std::string_view kMetadataMarker = "\xAB\xCD\xEFMaxMind.com";
// The largest payload size (or map/array entry count) a control byte can express.
constexpr size_t kMaxFieldSize = 65821 + (size_t{1} << 24) - 1;
// libmaxminddb refuses data nested deeper than this (MAXIMUM_DATA_STRUCTURE_DEPTH).
constexpr int kMaxNesting = 512;

void AppendBigEndian(std::string& out, uint64_t value, int bytes) {
  for (int i = bytes - 1; i >= 0; --i)
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

// Encodes data section fields. The first error is sticky and reported by status().
class DataEncoder {
 public:
  explicit DataEncoder(std::string& out) : out_(out) {}

  const Status& status() const { return status_; }

  // The control byte, the extended type byte (types > 7) and the size bytes.
  void Control(uint8_t type, size_t size) {
    if (size > kMaxFieldSize) {
      SetError("a field of " + std::to_string(size) + " bytes or entries does not fit");
      return;
    }
    uint8_t first = type <= 7 ? static_cast<uint8_t>(type << 5) : 0;
    uint64_t extra = 0;
    int extra_bytes = 0;
    if (size < 29) {
      first |= static_cast<uint8_t>(size);
    } else if (size < 285) {
      first |= 29;
      extra = size - 29;
      extra_bytes = 1;
    } else if (size < 65821) {
      first |= 30;
      extra = size - 285;
      extra_bytes = 2;
    } else {
      first |= 31;
      extra = size - 65821;
      extra_bytes = 3;
    }
    out_.push_back(static_cast<char>(first));
    if (type > 7) out_.push_back(static_cast<char>(type - 7));
    AppendBigEndian(out_, extra, extra_bytes);
  }

  void String(std::string_view s) {
    Control(kUtf8String, s.size());
    out_.append(s);
  }

  void Double(double value) {
    uint64_t bits;
    static_assert(sizeof(bits) == sizeof(value));
    std::memcpy(&bits, &value, sizeof(bits));
    Control(kDouble, 8);
    AppendBigEndian(out_, bits, 8);
  }

  // uint16 / uint32 / uint64 in as few bytes as the value needs (0 bytes for 0).
  void Unsigned(uint8_t type, uint64_t value) {
    int bytes = 0;
    for (uint64_t rest = value; rest != 0; rest >>= 8)
      ++bytes;
    Control(type, bytes);
    AppendBigEndian(out_, value, bytes);
  }

  // A boolean's value is its size; it has no payload.
  void Boolean(bool value) { Control(kBoolean, value ? 1 : 0); }

  void Json(const rapidjson::Value& value, int depth = 0) {
    if (depth > kMaxNesting) {
      SetError("data nested deeper than " + std::to_string(kMaxNesting) + " levels");
      return;
    }
    switch (value.GetType()) {
      case rapidjson::kNullType:
        SetError("null has no MaxMind DB type");
        return;
      case rapidjson::kFalseType:
      case rapidjson::kTrueType:
        Boolean(value.GetBool());
        return;
      case rapidjson::kStringType:
        String({value.GetString(), value.GetStringLength()});
        return;
      case rapidjson::kNumberType:
        if (value.IsUint()) {
          Unsigned(kUint32, value.GetUint());
        } else if (value.IsUint64()) {
          Unsigned(kUint64, value.GetUint64());
        } else {
          Double(value.GetDouble());
        }
        return;
      case rapidjson::kObjectType:
        Control(kMap, value.MemberCount());
        for (const auto& member : value.GetObject()) {
          String({member.name.GetString(), member.name.GetStringLength()});
          Json(member.value, depth + 1);
        }
        return;
      case rapidjson::kArrayType:
        Control(kArray, value.Size());
        for (const auto& element : value.GetArray())
          Json(element, depth + 1);
        return;
    }
  }

 private:
  void SetError(std::string message) {
    if (status_.ok()) status_ = Status::InvalidArgument(std::move(message));
  }

  std::string& out_;
  Status status_;
};

// A network in the IPv6 address space (IPv4 networks moved under ::/96).
struct Prefix {
  std::array<uint8_t, 16> address{};
  int length = 0;
};

int BitAt(const std::array<uint8_t, 16>& address, int index) {
  return (address[index / 8] >> (7 - index % 8)) & 1;
}

Status ParseCidr(std::string_view cidr, Prefix* out) {
  auto bad = [cidr](std::string_view why) {
    return Status::InvalidArgument("bad CIDR \"" + std::string(cidr) + "\": " + std::string(why));
  };
  const size_t slash = cidr.find('/');
  if (slash == std::string_view::npos) return bad("no /prefix-length");
  const std::string address(cidr.substr(0, slash));
  const std::string_view length_text = cidr.substr(slash + 1);
  int length = -1;
  auto [end, ec] =
      std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (ec != std::errc() || end != length_text.data() + length_text.size() || length < 0) {
    return bad("the prefix length is not a number");
  }
  *out = Prefix{};
  if (address.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, address.c_str(), out->address.data()) != 1) {
      return bad("not an IPv6 address");
    }
    if (length > 128) return bad("prefix length over 128");
    out->length = length;
  } else {
    in_addr v4{};
    if (inet_pton(AF_INET, address.c_str(), &v4) != 1) return bad("not an IPv4 address");
    if (length > 32) return bad("prefix length over 32");
    std::memcpy(out->address.data() + 12, &v4.s_addr, 4);  // s_addr is in network order
    out->length = 96 + length;
  }
  for (int i = out->length; i < 128; ++i) {
    if (BitAt(out->address, i) != 0) return bad("bits set after the prefix length");
  }
  return Status::Ok();
}

// The binary search tree under construction. Node 0 is the root; node numbers are indexes.
class SearchTree {
 public:
  struct Record {
    enum class Kind : uint8_t { kEmpty, kNode, kData };
    Kind kind = Kind::kEmpty;
    uint32_t value = 0;  // node number (kNode) or data section offset (kData)
  };

  SearchTree() : nodes_(1) {}

  uint32_t node_count() const { return static_cast<uint32_t>(nodes_.size()); }

  // Points the network's record at `data_offset`. InvalidArgument when it overlaps a network
  // inserted before.
  Status Insert(const Prefix& prefix, uint32_t data_offset, std::string_view cidr) {
    if (prefix.length == 0) {
      // The root cannot be a data record: ::/0 is its two halves.
      Prefix half = prefix;
      half.length = 1;
      TL_RETURN_IF_ERROR(Insert(half, data_offset, cidr));
      half.address[0] = 0x80;
      return Insert(half, data_offset, cidr);
    }
    Record* slot = Slot(prefix.address, prefix.length);
    if (slot == nullptr || slot->kind != Record::Kind::kEmpty) {
      return Status::InvalidArgument("network " + std::string(cidr) + " overlaps another one");
    }
    *slot = {Record::Kind::kData, data_offset};
    return Status::Ok();
  }

  // Makes ::ffff:0:0/96 lead where ::/96 leads, like MaxMind's databases, so IPv4-mapped IPv6
  // addresses find IPv4 data. Does nothing when there is no IPv4 data or the caller put
  // networks there.
  void AliasIpv4Mapped() {
    uint32_t node = 0;
    Record ipv4;
    for (int depth = 0; depth < 96; ++depth) {
      const Record child = nodes_[node].child[0];
      if (depth == 95) {
        ipv4 = child;
      } else if (child.kind != Record::Kind::kNode) {
        return;
      } else {
        node = child.value;
      }
    }
    if (ipv4.kind == Record::Kind::kEmpty) return;
    std::array<uint8_t, 16> mapped{};
    mapped[10] = mapped[11] = 0xFF;
    Record* slot = Slot(mapped, 96);
    if (slot != nullptr && slot->kind == Record::Kind::kEmpty) *slot = ipv4;
  }

  // Appends the tree with records of `record_bits` (24, 28 or 32) bits.
  void Serialize(int record_bits, std::string& out) const {
    const uint32_t count = node_count();
    auto value = [count](const Record& r) -> uint64_t {
      switch (r.kind) {
        case Record::Kind::kEmpty:
          return count;
        case Record::Kind::kNode:
          return r.value;
        case Record::Kind::kData:
          return uint64_t{count} + kDataSectionSeparator + r.value;
      }
      return count;
    };
    for (const Node& node : nodes_) {
      const uint64_t left = value(node.child[0]);
      const uint64_t right = value(node.child[1]);
      switch (record_bits) {
        case 24:
          AppendBigEndian(out, left, 3);
          AppendBigEndian(out, right, 3);
          break;
        case 28:
          // The top 4 bits of each record share the middle byte, left's in the high nibble.
          AppendBigEndian(out, left & 0xFFFFFF, 3);
          out.push_back(static_cast<char>(((left >> 20) & 0xF0) | ((right >> 24) & 0x0F)));
          AppendBigEndian(out, right & 0xFFFFFF, 3);
          break;
        default:
          AppendBigEndian(out, left, 4);
          AppendBigEndian(out, right, 4);
          break;
      }
    }
  }

 private:
  struct Node {
    std::array<Record, 2> child;
  };

  // The record for the first `length` (>= 1) bits of `address`, creating nodes on the way, or
  // nullptr when a data record covers it. Valid until the next call.
  Record* Slot(const std::array<uint8_t, 16>& address, int length) {
    uint32_t node = 0;
    for (int depth = 0; depth < length - 1; ++depth) {
      Record child = nodes_[node].child[BitAt(address, depth)];
      if (child.kind == Record::Kind::kData) return nullptr;
      if (child.kind == Record::Kind::kEmpty) {
        child = {Record::Kind::kNode, node_count()};
        nodes_[node].child[BitAt(address, depth)] = child;
        nodes_.emplace_back();
      }
      node = child.value;
    }
    return &nodes_[node].child[BitAt(address, length - 1)];
  }

  std::vector<Node> nodes_;
};

// Adds the keys of every "names" map in `value` to `languages`.
void CollectLanguages(const rapidjson::Value& value, std::set<std::string>& languages) {
  if (value.IsArray()) {
    for (const auto& element : value.GetArray())
      CollectLanguages(element, languages);
    return;
  }
  if (!value.IsObject()) return;
  for (const auto& member : value.GetObject()) {
    if (member.value.IsObject() && std::string_view(member.name.GetString()) == "names") {
      for (const auto& name : member.value.GetObject())
        languages.emplace(name.name.GetString());
    }
    CollectLanguages(member.value, languages);
  }
}

Status EncodeMetadata(std::string_view database_type, uint32_t node_count, int record_bits,
                      const std::set<std::string>& languages, std::string& out) {
  out.append(kMetadataMarker);
  DataEncoder enc(out);
  enc.Control(kMap, 9);
  enc.String("node_count");
  enc.Unsigned(kUint32, node_count);
  enc.String("record_size");
  enc.Unsigned(kUint16, static_cast<uint64_t>(record_bits));
  enc.String("ip_version");
  enc.Unsigned(kUint16, 6);
  enc.String("database_type");
  enc.String(database_type);
  enc.String("languages");
  enc.Control(kArray, languages.size());
  for (const std::string& language : languages)
    enc.String(language);
  enc.String("binary_format_major_version");
  enc.Unsigned(kUint16, 2);
  enc.String("binary_format_minor_version");
  enc.Unsigned(kUint16, 0);
  enc.String("build_epoch");
  enc.Unsigned(kUint64, static_cast<uint64_t>(std::time(nullptr)));
  enc.String("description");
  enc.Control(kMap, 1);
  enc.String("en");
  enc.String("tideline test database");
  return enc.status();
}

Status WriteFile(const std::string& path, const std::string& bytes) {
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    return Status::IOError("cannot create " + path + ": " + std::strerror(errno));
  }
  const size_t written = std::fwrite(bytes.data(), 1, bytes.size(), file);
  const int write_errno = errno;
  if (std::fclose(file) != 0 || written != bytes.size()) {
    return Status::IOError("cannot write " + path + ": " +
                           std::strerror(written != bytes.size() ? write_errno : errno));
  }
  return Status::Ok();
}

}  // namespace

Status WriteMmdb(const std::string& path, std::string_view database_type,
                 const std::vector<MmdbNetwork>& networks) {
  SearchTree tree;
  std::string data;
  std::map<std::string, uint32_t> offset_of_record;  // identical records are stored once
  std::set<std::string> languages;
  for (const MmdbNetwork& network : networks) {
    Prefix prefix;
    TL_RETURN_IF_ERROR(ParseCidr(network.cidr, &prefix));
    rapidjson::Document doc;
    doc.Parse(network.json.data(), network.json.size());
    if (doc.HasParseError()) {
      return Status::InvalidArgument("network " + network.cidr + ": bad JSON: " +
                                     rapidjson::GetParseError_En(doc.GetParseError()) +
                                     " at byte " + std::to_string(doc.GetErrorOffset()));
    }
    if (!doc.IsObject()) {
      return Status::InvalidArgument("network " + network.cidr + ": the data is not an object");
    }
    std::string record;
    DataEncoder enc(record);
    enc.Json(doc);
    if (!enc.status().ok()) {
      return Status::InvalidArgument("network " + network.cidr + ": " + enc.status().message());
    }
    CollectLanguages(doc, languages);
    auto [it, inserted] =
        offset_of_record.emplace(std::move(record), static_cast<uint32_t>(data.size()));
    if (inserted) data.append(it->first);
    TL_RETURN_IF_ERROR(tree.Insert(prefix, it->second, network.cidr));
  }
  tree.AliasIpv4Mapped();

  // Every record value (node number, empty marker, data pointer) must fit the record size.
  const uint64_t max_record_value =
      uint64_t{tree.node_count()} + kDataSectionSeparator + data.size();
  int record_bits = 0;
  for (int bits : {24, 28, 32}) {
    if (max_record_value < (uint64_t{1} << bits)) {
      record_bits = bits;
      break;
    }
  }
  if (record_bits == 0) return Status::InvalidArgument("database too large for 32-bit records");

  std::string file;
  file.reserve(size_t{tree.node_count()} * 8 + kDataSectionSeparator + data.size() + 512);
  tree.Serialize(record_bits, file);
  file.append(kDataSectionSeparator, '\0');
  file.append(data);
  TL_RETURN_IF_ERROR(
      EncodeMetadata(database_type, tree.node_count(), record_bits, languages, file));
  return WriteFile(path, file);
}

}  // namespace tideline::mmdb
