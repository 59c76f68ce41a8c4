#include "h2_flood_guard.h"

#include <algorithm>

namespace tideline::server {

namespace {

// Frame types and flags (RFC 9113 section 6).
constexpr uint8_t kData = 0x0;
constexpr uint8_t kHeaders = 0x1;
constexpr uint8_t kPriority = 0x2;
constexpr uint8_t kRstStream = 0x3;
constexpr uint8_t kSettings = 0x4;
constexpr uint8_t kPushPromise = 0x5;
constexpr uint8_t kPing = 0x6;
constexpr uint8_t kGoaway = 0x7;
constexpr uint8_t kWindowUpdate = 0x8;
constexpr uint8_t kContinuation = 0x9;
constexpr uint8_t kFlagEndStream = 0x1;
constexpr uint8_t kFlagEndHeaders = 0x4;

}  // namespace

H2FloodGuard::H2FloodGuard(const H2FloodLimits& limits, Clock::time_point now)
    : limits_(limits), tokens_(limits.control_burst), refilled_(now) {}

std::string_view H2FloodGuard::Scan(std::span<const uint8_t> bytes, Clock::time_point now) {
  size_t at = 0;
  while (at < bytes.size() && exceeded_.empty()) {
    if (preface_left_ > 0) {
      const size_t n = std::min(preface_left_, bytes.size() - at);
      preface_left_ -= n;
      at += n;
      continue;
    }
    if (payload_left_ > 0) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(payload_left_, bytes.size() - at));
      payload_left_ -= n;
      at += n;
      continue;
    }
    const size_t n = std::min(kFrameHeaderBytes - header_have_, bytes.size() - at);
    std::copy_n(bytes.data() + at, n, header_ + header_have_);
    header_have_ += n;
    at += n;
    if (header_have_ < kFrameHeaderBytes) break;
    header_have_ = 0;
    const uint32_t length = (uint32_t{header_[0]} << 16) | (uint32_t{header_[1]} << 8) | header_[2];
    payload_left_ = length;
    exceeded_ = OnFrame(header_[3], header_[4], length, now);
  }
  return exceeded_;
}

std::string_view H2FloodGuard::OnFrame(uint8_t type, uint8_t flags, uint32_t length,
                                       Clock::time_point now) {
  ++frames_;
  switch (type) {
    case kData:
      if (length == 0 && (flags & kFlagEndStream) == 0 && !TakeControlToken(now)) {
        return "control frames";
      }
      return {};
    case kHeaders:
    case kPushPromise:
      in_header_block_ = (flags & kFlagEndHeaders) == 0;
      return {};
    case kContinuation:
      // How many may follow a HEADERS frame is nghttp2's max_continuations.
      if (flags & kFlagEndHeaders) in_header_block_ = false;
      return {};
    case kGoaway:
      return {};  // the client is leaving; nghttp2 stops taking streams
    case kWindowUpdate:
      ++window_updates_;
      if (window_updates_ > limits_.window_update_allowance +
                                data_frames_sent_ * limits_.window_updates_per_data_frame) {
        return "WINDOW_UPDATE frames";
      }
      return {};
    case kPriority:
    case kRstStream:
    case kSettings:
    case kPing:
    default:  // PRIORITY_UPDATE, ALTSVC, ORIGIN and unknown types: read and dropped
      return TakeControlToken(now) ? std::string_view() : std::string_view("control frames");
  }
}

bool H2FloodGuard::TakeControlToken(Clock::time_point now) {
  if (now > refilled_) {
    const double seconds = std::chrono::duration<double>(now - refilled_).count();
    tokens_ =
        std::min<double>(limits_.control_burst, tokens_ + seconds * limits_.control_per_second);
    refilled_ = now;
  }
  if (tokens_ < 1) return false;
  tokens_ -= 1;
  return true;
}

}  // namespace tideline::server
