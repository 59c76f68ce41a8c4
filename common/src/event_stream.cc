#include "common/event_stream.h"

#include <cstring>

#include <zlib.h>

namespace tideline::eventstream {
namespace {

void PutU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint64_t GetBE(const char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i)
    v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

size_t HeadersSize(std::span<const StringHeader> headers) {
  size_t n = 0;
  for (const StringHeader& h : headers)
    n += 1 + h.name.size() + 1 + 2 + h.value.size();
  return n;
}

Status Malformed(std::string_view what) {
  return Status::InvalidArgument("malformed event-stream message: " + std::string(what));
}

}  // namespace

uint32_t Crc32(uint32_t crc, std::string_view bytes) {
  // zlib takes uInt lengths; the messages here are at most kMaxPayload + kMaxHeaders.
  return static_cast<uint32_t>(
      crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
}

namespace {

// Writes the prelude and `headers` at the front of the `total`-byte message at `p`, whose
// payload is already in place after them, and its CRC into the last 4 bytes.
void FrameMessage(char* p, size_t total, std::span<const StringHeader> headers,
                  size_t headers_size) {
  PutU32(p, static_cast<uint32_t>(total));
  PutU32(p + 4, static_cast<uint32_t>(headers_size));
  PutU32(p + 8, Crc32(0, std::string_view(p, 8)));
  char* h = p + 12;
  for (const StringHeader& header : headers) {
    *h++ = static_cast<char>(header.name.size());
    std::memcpy(h, header.name.data(), header.name.size());
    h += header.name.size();
    *h++ = static_cast<char>(HeaderValue::Type::kString);
    *h++ = static_cast<char>(header.value.size() >> 8);
    *h++ = static_cast<char>(header.value.size());
    std::memcpy(h, header.value.data(), header.value.size());
    h += header.value.size();
  }
  PutU32(p + total - 4, Crc32(0, std::string_view(p, total - 4)));
}

}  // namespace

void AppendMessage(std::string& out, std::span<const StringHeader> headers,
                   std::string_view payload) {
  const size_t headers_size = HeadersSize(headers);
  const size_t total = kOverhead + headers_size + payload.size();
  const size_t start = out.size();
  out.resize(start + total);
  char* p = out.data() + start;
  if (!payload.empty()) std::memcpy(p + 12 + headers_size, payload.data(), payload.size());
  FrameMessage(p, total, headers, headers_size);
}

void AppendEvent(std::string& out, std::string_view type, std::string_view content_type,
                 std::string_view payload) {
  const StringHeader headers[] = {
      {":event-type", type},
      {":content-type", content_type},
      {":message-type", "event"},
  };
  AppendMessage(out, headers, payload);
}

void AppendException(std::string& out, std::string_view type, std::string_view content_type,
                     std::string_view payload) {
  const StringHeader headers[] = {
      {":exception-type", type},
      {":content-type", content_type},
      {":message-type", "exception"},
  };
  AppendMessage(out, headers, payload);
}

size_t EventPrefixSize(std::string_view type, std::string_view content_type) {
  const StringHeader headers[] = {
      {":event-type", type},
      {":content-type", content_type},
      {":message-type", "event"},
  };
  return 12 + HeadersSize(headers);
}

void FinishEvent(std::span<char> message, std::string_view type, std::string_view content_type) {
  const StringHeader headers[] = {
      {":event-type", type},
      {":content-type", content_type},
      {":message-type", "event"},
  };
  FrameMessage(message.data(), message.size(), headers, HeadersSize(headers));
}

std::string_view Message::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name && v.type == HeaderValue::Type::kString) return v.bytes;
  }
  return {};
}

Result<std::optional<Message>> DecodeMessage(std::string_view in, size_t* consumed) {
  *consumed = 0;
  if (in.size() < 12) return std::optional<Message>();
  const uint64_t total = GetBE(in.data(), 4);
  const uint64_t headers_size = GetBE(in.data() + 4, 4);
  if (Crc32(0, in.substr(0, 8)) != GetBE(in.data() + 8, 4)) return Malformed("prelude CRC");
  if (total < kOverhead || headers_size > kMaxHeaders || total - kOverhead < headers_size ||
      total - kOverhead - headers_size > kMaxPayload) {
    return Malformed("lengths");
  }
  if (in.size() < total) return std::optional<Message>();
  if (Crc32(0, in.substr(0, total - 4)) != GetBE(in.data() + total - 4, 4)) {
    return Malformed("message CRC");
  }
  Message m;
  std::string_view h = in.substr(12, headers_size);
  while (!h.empty()) {
    const size_t name_size = static_cast<uint8_t>(h[0]);
    if (name_size == 0 || h.size() < 1 + name_size + 1) return Malformed("header name");
    std::string name(h.substr(1, name_size));
    const auto type = static_cast<HeaderValue::Type>(static_cast<uint8_t>(h[1 + name_size]));
    h.remove_prefix(1 + name_size + 1);
    HeaderValue value;
    value.type = type;
    size_t fixed = 0;
    switch (type) {
      case HeaderValue::Type::kTrue:
        value.number = 1;
        break;
      case HeaderValue::Type::kFalse:
        break;
      case HeaderValue::Type::kByte:
        fixed = 1;
        break;
      case HeaderValue::Type::kShort:
        fixed = 2;
        break;
      case HeaderValue::Type::kInteger:
        fixed = 4;
        break;
      case HeaderValue::Type::kLong:
      case HeaderValue::Type::kTimestamp:
        fixed = 8;
        break;
      case HeaderValue::Type::kUuid:
        if (h.size() < 16) return Malformed("uuid header");
        value.bytes.assign(h.substr(0, 16));
        h.remove_prefix(16);
        break;
      case HeaderValue::Type::kBytes:
      case HeaderValue::Type::kString: {
        if (h.size() < 2) return Malformed("header value length");
        const size_t n = GetBE(h.data(), 2);
        if (h.size() < 2 + n) return Malformed("header value");
        value.bytes.assign(h.substr(2, n));
        h.remove_prefix(2 + n);
        break;
      }
      default:
        return Malformed("header type");
    }
    if (fixed != 0) {
      if (h.size() < fixed) return Malformed("header value");
      // Sign-extend from the value's width.
      const uint64_t raw = GetBE(h.data(), fixed);
      const unsigned shift = 64 - 8 * static_cast<unsigned>(fixed);
      value.number = static_cast<int64_t>(raw << shift) >> shift;
      h.remove_prefix(fixed);
    }
    m.headers.emplace_back(std::move(name), std::move(value));
  }
  m.payload.assign(in.substr(12 + headers_size, total - kOverhead - headers_size));
  *consumed = total;
  return std::optional<Message>(std::move(m));
}

Status Decoder::Feed(std::string_view bytes, std::vector<Message>* out) {
  if (!error_.ok()) return error_;
  buffer_.append(bytes);
  while (true) {
    size_t consumed = 0;
    auto decoded = DecodeMessage(std::string_view(buffer_).substr(start_), &consumed);
    if (!decoded.ok()) {
      error_ = decoded.status();
      return error_;
    }
    if (!decoded->has_value()) break;
    out->push_back(std::move(**decoded));
    start_ += consumed;
  }
  // Drop what was decoded once it is most of the buffer, so the buffer stays about one message.
  if (start_ > 0 && start_ * 2 >= buffer_.size()) {
    buffer_.erase(0, start_);
    start_ = 0;
  }
  return Status::Ok();
}

}  // namespace tideline::eventstream
