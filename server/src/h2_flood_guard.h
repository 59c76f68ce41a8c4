// The HTTP/2 frame budgets nghttp2 does not keep itself. Every frame header a client sends passes
// through H2FloodGuard before nghttp2 sees the bytes (so frames nghttp2 ignores, for closed
// streams or of unknown types, are counted too); a connection over a budget is ended with GOAWAY
// ENHANCE_YOUR_CALM (h2_connection.cc, which also lists the limits nghttp2 keeps).
//
// What each budget stops:
//   control frames   SETTINGS, PING, PRIORITY, RST_STREAM, PRIORITY_UPDATE, frames of unknown
//                    types and DATA frames with no payload and no END_STREAM cost the server work
//                    (an ACK to queue, a stream to look up, a reset request to forget) but carry
//                    no request: floods of them (SETTINGS/PING floods, CVE-2019-9512/9515;
//                    "rapid reset", CVE-2023-44487; empty frames, CVE-2019-9518) draw a token
//                    bucket down, which a client that only asks requests never empties.
//   WINDOW_UPDATE    a client sends about one per DATA frame it reads (stream and connection),
//                    so they are allowed in proportion to the DATA frames the server has sent,
//                    plus a fixed allowance: a WINDOW_UPDATE flood (and the tiny-window
//                    "data dribble", CVE-2019-9511, which needs one per DATA frame) stays
//                    bounded by the server's own output.
//
// Not thread-safe: one connection's frames, on its strand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace tideline::server {

struct H2FloodLimits {
  // Control frames (see above) a connection may send at once. Default: 200
  uint32_t control_burst = 200;
  // Control frames per second a connection may go on sending after the burst. Default: 50
  uint32_t control_per_second = 50;
  // WINDOW_UPDATE frames allowed besides those earned by DATA frames. Default: 200
  uint32_t window_update_allowance = 200;
  // WINDOW_UPDATE frames earned by each DATA frame the server sends. Default: 2
  uint32_t window_updates_per_data_frame = 2;
};

class H2FloodGuard {
 public:
  using Clock = std::chrono::steady_clock;

  H2FloodGuard(const H2FloodLimits& limits, Clock::time_point now);

  // Reads the frame headers in `bytes`, the next bytes the client sent (the connection's first
  // 24 bytes are its preface, which is skipped). Returns the budget a frame exceeded
  // ("control frames", "WINDOW_UPDATE frames"), or an empty view while every budget holds. Once
  // exceeded, the connection is over: later calls return the same.
  std::string_view Scan(std::span<const uint8_t> bytes, Clock::time_point now);

  // The server sent a DATA frame: it earns the client window_updates_per_data_frame updates.
  void OnDataFrameSent() { ++data_frames_sent_; }

  // True from a HEADERS (or PUSH_PROMISE) frame without END_HEADERS until the CONTINUATION that
  // ends its header block: the connection can carry nothing else meanwhile, so the header
  // timeout applies to it.
  bool in_header_block() const { return in_header_block_; }

  uint64_t frames() const { return frames_; }

 private:
  static constexpr size_t kPrefaceBytes = 24;
  static constexpr size_t kFrameHeaderBytes = 9;

  // Accounts one complete frame header.
  std::string_view OnFrame(uint8_t type, uint8_t flags, uint32_t length, Clock::time_point now);
  bool TakeControlToken(Clock::time_point now);

  const H2FloodLimits limits_;
  size_t preface_left_ = kPrefaceBytes;
  uint8_t header_[kFrameHeaderBytes] = {};
  size_t header_have_ = 0;
  uint64_t payload_left_ = 0;  // payload bytes of the current frame not yet seen
  double tokens_;
  Clock::time_point refilled_;
  uint64_t window_updates_ = 0;
  uint64_t data_frames_sent_ = 0;
  uint64_t frames_ = 0;
  bool in_header_block_ = false;
  std::string_view exceeded_;
};

}  // namespace tideline::server
