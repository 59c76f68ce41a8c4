// An HTTP/2 client for tests: nghttp2's client session in memory. Requests are submitted, bytes
// move with Output() / Receive(), and what came back is kept per stream. Raw frames (for floods
// and malformed input) are built with Frame().
#pragma once

#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tideline::server::h2test {

class H2Client {
 public:
  struct Response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::vector<int> informational;  // 1xx statuses before the final one
    std::string body;
    bool closed = false;
    uint32_t close_code = 0;  // the stream's error code when closed (RST_STREAM's)
    bool reset_by_server = false;

    std::string Header(std::string_view name) const {
      for (const auto& [n, v] : headers) {
        if (n == name) return v;
      }
      return {};
    }
    bool HasHeader(std::string_view name) const {
      for (const auto& [n, v] : headers) {
        if (n == name) return true;
      }
      return false;
    }
  };

  struct Options {
    // The client's SETTINGS_INITIAL_WINDOW_SIZE (what the server may send on a stream unread).
    uint32_t initial_window = 1 << 20;
    // The client's connection window beyond the 65535 default.
    int32_t connection_window = 16 << 20;
    // Consume response DATA (and so send WINDOW_UPDATE) only when Consume() is called.
    bool manual_window = false;
  };

  H2Client() : H2Client(Options{}) {}
  explicit H2Client(const Options& options) : options_(options) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &OnData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &OnClose);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &OnFrame);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_auto_window_update(opt, options.manual_window ? 1 : 0);
    // The server's limits are under test, not the client's.
    nghttp2_option_set_max_outbound_ack(opt, 1u << 20);
    nghttp2_option_set_max_send_header_block_length(opt, 1u << 20);
    nghttp2_session_client_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    const nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, options.initial_window},
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
    };
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
    if (options.connection_window > 65535) {
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                            options.connection_window);
    }
  }
  ~H2Client() { nghttp2_session_del(session_); }
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  // Submits a request; `body` null: none (END_STREAM on HEADERS). Returns the stream id.
  int32_t Submit(std::string_view method, std::string_view path,
                 const std::vector<std::pair<std::string, std::string>>& headers,
                 const std::string* body = nullptr, std::string_view authority = "localhost") {
    std::vector<nghttp2_nv> nva;
    const auto add = [&nva](std::string_view n, std::string_view v) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                     NGHTTP2_NV_FLAG_NONE});
    };
    add(":method", method);
    add(":scheme", "http");
    add(":authority", authority);
    add(":path", path);
    for (const auto& [n, v] : headers)
      add(n, v);
    nghttp2_data_provider provider{};
    Upload* upload = nullptr;
    if (body != nullptr) {
      uploads_.push_back(std::make_unique<Upload>(Upload{*body, 0}));
      upload = uploads_.back().get();
      provider.source.ptr = upload;
      provider.read_callback = &ReadUpload;
    }
    const int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(),
                                              body != nullptr ? &provider : nullptr, nullptr);
    if (id < 0) throw std::runtime_error(nghttp2_strerror(id));
    responses_[id];
    return id;
  }

  // Everything the session wants to send now.
  std::string Output() {
    std::string out;
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    return out;
  }

  // Bytes from the server; false once the client session failed (a protocol error).
  bool Receive(std::string_view bytes) {
    const ssize_t rv = nghttp2_session_mem_recv(
        session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    return rv >= 0;
  }

  // Frees `n` bytes of the stream's window (manual_window).
  void Consume(int32_t stream_id, size_t n) { nghttp2_session_consume(session_, stream_id, n); }

  void Reset(int32_t stream_id, uint32_t code = NGHTTP2_CANCEL) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, stream_id, code);
  }

  uint32_t RemoteSetting(nghttp2_settings_id id) const {
    return nghttp2_session_get_remote_settings(session_, id);
  }

  const Response& response(int32_t id) { return responses_[id]; }
  bool goaway() const { return goaway_; }
  uint32_t goaway_code() const { return goaway_code_; }
  nghttp2_session* session() { return session_; }

  // A raw frame: 9-byte header and payload (RFC 9113 4.1).
  static std::string Frame(uint8_t type, uint8_t flags, int32_t stream_id,
                           std::string_view payload) {
    std::string f(9, '\0');
    const size_t n = payload.size();
    f[0] = static_cast<char>(n >> 16);
    f[1] = static_cast<char>(n >> 8);
    f[2] = static_cast<char>(n);
    f[3] = static_cast<char>(type);
    f[4] = static_cast<char>(flags);
    f[5] = static_cast<char>((stream_id >> 24) & 0x7f);
    f[6] = static_cast<char>(stream_id >> 16);
    f[7] = static_cast<char>(stream_id >> 8);
    f[8] = static_cast<char>(stream_id);
    f.append(payload);
    return f;
  }

  static constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

 private:
  struct Upload {
    std::string body;
    size_t sent;
  };

  static H2Client& Self(void* p) { return *static_cast<H2Client*>(p); }

  static ssize_t ReadUpload(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                            nghttp2_data_source* source, void*) {
    Upload& u = *static_cast<Upload*>(source->ptr);
    const size_t n = std::min(length, u.body.size() - u.sent);
    std::memcpy(buf, u.body.data() + u.sent, n);
    u.sent += n;
    if (u.sent == u.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* p) {
    Response& r = Self(p).responses_[frame->hd.stream_id];
    const std::string n(reinterpret_cast<const char*>(name), namelen);
    const std::string v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      const int status = std::stoi(v);
      if (status < 200) {
        r.informational.push_back(status);
      } else {
        r.status = status;
      }
      return 0;
    }
    r.headers.emplace_back(n, v);
    return 0;
  }

  static int OnData(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                    void* p) {
    Self(p).responses_[stream_id].body.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int OnClose(nghttp2_session*, int32_t stream_id, uint32_t code, void* p) {
    Response& r = Self(p).responses_[stream_id];
    r.closed = true;
    r.close_code = code;
    return 0;
  }

  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* p) {
    H2Client& c = Self(p);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_ = true;
      c.goaway_code_ = frame->goaway.error_code;
    } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
      c.responses_[frame->hd.stream_id].reset_by_server = true;
    }
    return 0;
  }

  Options options_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Response> responses_;
  std::vector<std::unique_ptr<Upload>> uploads_;
  bool goaway_ = false;
  uint32_t goaway_code_ = 0;
};

}  // namespace tideline::server::h2test
