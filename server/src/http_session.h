// One HTTP/1.1 connection (modeled on Beast's advanced_server): read a request, hand it to the
// Router, write the response, repeat while keep-alive holds. The session only frames, times out
// and writes; what a request means is the Router's business. Requests of one connection are
// handled one at a time, in order: pipelined requests wait in the read buffer and the TCP
// window, which bounds what a client can queue. Owns the timeouts, the body limits and the
// session's share of the in-flight budget (see limits.h).
//
// One implementation serves plain and TLS connections: HttpSession<PlainStream> is the plain
// server, HttpSession<TlsStream> does the TLS handshake first (within tls.handshake_timeout of the
// accept) and sends close_notify before the lingering close. Every limit below applies to both.
//
// Timeouts: a connection's first request header must be complete within header_timeout of the
// accept (of the handshake, with TLS); between keep-alive requests the connection may sit idle for
// idle_timeout, and once the next request's first byte arrives its header again has header_timeout.
// Reading a body and writing a response each have idle_timeout.
//
// Protocol selection: every connection starts here. A plain connection whose first bytes are the
// HTTP/2 connection preface ("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", h2c with prior knowledge),
// and a TLS connection that chose "h2" by ALPN, are handed to an H2Session (h2_session.h) with the
// bytes already read and the connection slot; everything else is HTTP/1.1 (Upgrade: h2c is not
// offered). The first request's header read starts with a read of its first bytes, as every
// keep-alive request's does, so HTTP/1.1 reads nothing more than before.
//
// Streamed responses (ApiResponse::stream, SubscribeToShard's event stream): the header goes out
// with Transfer-Encoding: chunked, each BodySink::Write becomes one chunk, End the last chunk,
// then the connection takes its next request as usual (HTTP/1.0: no chunks, the body ends with
// the connection). Each chunk must be written within idle_timeout; meanwhile one read watches the
// socket, so a client that closes or resets the connection cancels the stream at once (bytes of a
// pipelined next request are kept for after the stream). A write that fails or times out cancels
// it too, and closes the connection. Queued chunks count against the in-flight budget (forced:
// the producer keeps at most about one event queued, see BodySink) until written.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "completion_poster.h"
#include "connection_limits.h"
#include "record_size_ceiling.h"
#include "router.h"
#include "server/options.h"
#include "tls_context.h"

namespace tideline::server {

// What every session shares; owned by the server, outlives all sessions' handlers.
struct SessionShared {
  const ServerOptions* options = nullptr;
  const Router* router = nullptr;
  // Hands responses produced on other threads to a session's strand.
  CompletionPoster* completions = nullptr;
  // Connection slots, the in-flight budget and their counters; sessions keep it alive.
  std::shared_ptr<Limits> limits;
  // Set when the port speaks TLS: the context each new connection gets.
  std::shared_ptr<TlsContextHolder> tls;
  // The largest record a stream takes, which PutRecord(s) bodies may grow with; null: the
  // 1 MiB default (record_size_ceiling.h).
  const RecordSizeCeiling* record_ceiling = nullptr;
};

using PlainStream = boost::beast::tcp_stream;
using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <typename Stream>
class HttpSession : public std::enable_shared_from_this<HttpSession<Stream>> {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `slot` was taken from shared.limits->gate for this connection; the session releases it. A
  // TLS session needs `tls` (the context current at the accept) and keeps it for as long as it
  // lives; a plain one takes none.
  HttpSession(boost::asio::ip::tcp::socket&& socket, const SessionShared& shared,
              ConnectionGate::Slot slot, std::shared_ptr<boost::asio::ssl::context> tls = nullptr);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;
  void Run();

 private:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

  using std::enable_shared_from_this<HttpSession<Stream>>::shared_from_this;
  using std::enable_shared_from_this<HttpSession<Stream>>::weak_from_this;

  class StreamSink;  // the BodySink of a streamed response
  struct Chunk {
    std::string bytes;
    std::function<void()> written;
  };
  enum class StreamState {
    kNone,       // no streamed response
    kStreaming,  // header or chunks being written; the producer may Write
    kAborted,    // cancelled; the connection is being closed
  };

  // The TCP stream under the session's stream: timeouts, half-close and the lingering close.
  boost::beast::tcp_stream& Tcp() { return boost::beast::get_lowest_layer(stream_); }
  static Stream MakeStream(boost::asio::ip::tcp::socket&& socket, boost::asio::ssl::context* tls);
  // TLS only: the server handshake, bounded by tls.handshake_timeout, then DoRead().
  void Handshake();
  void OnHandshake(boost::beast::error_code ec);
  void DoRead();
  void OnFirstBytes(boost::beast::error_code ec, size_t bytes);
  // Plain connections, first request: reads until the bytes either are the HTTP/2 preface
  // (HandOffToH2) or cannot be (ReadHeader, without restarting the accept's header_timeout).
  void ReadPreface();
  void OnPrefaceBytes(boost::beast::error_code ec, size_t bytes);
  // Gives the connection (stream, slot, the bytes read so far) to an H2Session.
  void HandOffToH2();
  void ReadHeader(bool restart_timer = true);
  void OnHeader(boost::beast::error_code ec, size_t bytes);
  // Decides from the header alone whether the request may go on (overflow slot, body limit,
  // in-flight budget) and reserves its body's bytes; when not, answers (and closes) and is false.
  bool Admit();
  void OnContinueWritten(boost::beast::error_code ec, size_t bytes);
  void ReadBody();
  void OnRead(boost::beast::error_code ec, size_t bytes);
  void HandleRequest(Request&& req);
  // Writes `resp` for a request of HTTP `version`; closes afterwards unless keep_alive.
  void Send(ApiResponse resp, unsigned version, bool keep_alive);
  void SendRaw(std::unique_ptr<Response> res);
  // Streamed responses (see the top of this file). All on the strand.
  void StartStream(ApiResponse resp, unsigned version, bool keep_alive);
  void OnStreamHeader(boost::beast::error_code ec, size_t bytes);
  void QueueChunk(uint64_t stream_id, std::string bytes, std::function<void()> written);
  void QueueEnd(uint64_t stream_id);
  void WriteNextChunk();
  void OnChunkWritten(bool last, boost::beast::error_code ec, size_t bytes);
  // The last chunk is written: the connection goes on with its next request (or closes).
  void FinishStream();
  // Cancels the producer and closes the connection at once (the stream cannot be delivered).
  void AbortStream();
  // The read that watches for the client going away while a stream is written.
  void ProbeRead();
  void OnProbe(boost::beast::error_code ec, size_t bytes);
  void ReleaseStreamReservation();
  // Leaves shared_.limits->streams (once per stream).
  void UncountStream();
  // Answers `resp` and closes: for a request whose body is left unread.
  void Reject(ApiResponse resp);
  // Rejects a body over body_limit_ with 413, counted.
  void RejectTooLarge();
  void ReleaseReservation();
  void OnWrite(bool close, boost::beast::error_code ec, size_t bytes);
  // Sends close_notify (TLS, bounded by kLingerTimeout), then CloseTcp().
  void Close();
  // Half-closes, then drains the peer's remaining bytes before closing (lingering close).
  void CloseTcp();

  static constexpr size_t kBodyReadBuffer = 64u << 10;  // Beast's largest single read
  static constexpr size_t kIdleReadBuffer = 8u << 10;

  // Reserved for a GetRecords at admission (its body is tiny, its answer up to ~14 MB); the
  // reservation grows to the answer's size once it is built.
  static constexpr uint64_t kReadReserve = 4u << 20;

  // The context this TLS connection was accepted with (null for plain); declared before stream_,
  // whose SSL object refers to it.
  const std::shared_ptr<boost::asio::ssl::context> tls_;
  Stream stream_;
  boost::beast::flat_buffer buffer_;  // also the discard buffer of the lingering close
  SessionShared shared_;
  const ConnectionGate::Slot slot_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::optional<boost::beast::http::response<boost::beast::http::empty_body>> continue_;
  std::unique_ptr<Response> response_;  // the response being written
  uint64_t body_limit_ = 0;             // the current request's body limit
  uint64_t reserved_ = 0;               // bytes of shared_.limits->budget this request holds
  bool between_requests_ = false;       // a response was written; idle_timeout applies
  bool handshake_done_ = !kTls;         // TLS: close_notify only makes sense after a handshake
  bool handed_off_ = false;             // an H2Session owns the connection (and its slot) now

  // The streamed response being written, if any.
  StreamState stream_state_ = StreamState::kNone;
  std::shared_ptr<BodyStream> body_stream_;  // set while streaming
  uint64_t stream_id_ = 0;          // counts streamed responses; a sink's calls carry theirs
  bool stream_chunked_ = true;      // HTTP/1.1: chunked framing
  bool stream_keep_alive_ = false;  // the connection goes on after the stream
  bool stream_writing_ = false;     // the header or a chunk is being written
  bool stream_end_queued_ = false;  // End was called: the last chunk follows the queue
  bool probing_ = false;            // ProbeRead is pending
  bool stream_counted_ = false;     // counted in shared_.limits->streams
  std::deque<Chunk> chunks_;        // queued by the sink, not yet written
  Chunk chunk_;                     // the chunk being written
  std::string chunk_size_line_;     // its "<hex size>\r\n"
  uint64_t stream_reserved_ = 0;    // budget held by queued and written-not-done chunks
  std::unique_ptr<boost::beast::http::response<boost::beast::http::empty_body>> stream_header_;
  std::unique_ptr<boost::beast::http::response_serializer<boost::beast::http::empty_body>>
      stream_serializer_;
};

extern template class HttpSession<PlainStream>;
extern template class HttpSession<TlsStream>;

}  // namespace tideline::server
