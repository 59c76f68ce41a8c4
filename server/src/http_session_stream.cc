// HttpSession's streamed responses (ApiResponse::stream: SubscribeToShard's event stream; see
// http_session.h): the chunked header, one chunk per BodySink::Write, the last chunk, the read
// that watches for the client going away, and the BodySink the producer writes through.
#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

#include "buffer_pool.h"
#include "http_session.h"
#include "request_id.h"

namespace tideline::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

// The BodySink of a streamed response: posts every call to the session's strand, tagged with
// the stream it belongs to, so calls after the stream was cancelled or ended are ignored there.
// Holds the session weakly: a sink outliving its connection does nothing.
template <typename Stream>
class HttpSession<Stream>::StreamSink final : public BodySink {
 public:
  StreamSink(std::weak_ptr<HttpSession> session, uint64_t stream_id, CompletionPoster& poster)
      : session_(std::move(session)), stream_id_(stream_id), poster_(poster) {}

  void Write(std::string bytes, std::function<void()> written) override {
    std::shared_ptr<HttpSession> s = session_.lock();
    if (!s) return;
    poster_.Post(s->stream_.get_executor(), [s, id = stream_id_, bytes = std::move(bytes),
                                             written = std::move(written)]() mutable {
      s->QueueChunk(id, std::move(bytes), std::move(written));
    });
  }

  void End() override {
    std::shared_ptr<HttpSession> s = session_.lock();
    if (!s) return;
    poster_.Post(s->stream_.get_executor(), [s, id = stream_id_] { s->QueueEnd(id); });
  }

 private:
  const std::weak_ptr<HttpSession> session_;
  const uint64_t stream_id_;
  CompletionPoster& poster_;
};

template <typename Stream>
void HttpSession<Stream>::StartStream(ApiResponse resp, unsigned version, bool keep_alive) {
  // The request's reservation is spent; from here each chunk is reserved while it is queued.
  ReleaseReservation();
  stream_chunked_ = version >= 11;
  stream_keep_alive_ = keep_alive && stream_chunked_ && slot_ != ConnectionGate::Slot::kOverflow;
  stream_header_ = std::make_unique<http::response<http::empty_body>>(
      static_cast<http::status>(resp.status), version);
  stream_header_->set(http::field::content_type, resp.content_type);
  stream_header_->set("x-amzn-RequestId", NewRequestId());
  stream_header_->keep_alive(stream_keep_alive_);
  if (stream_chunked_) stream_header_->chunked(true);
  stream_serializer_ =
      std::make_unique<http::response_serializer<http::empty_body>>(*stream_header_);
  body_stream_ = std::move(resp.stream);
  stream_state_ = StreamState::kStreaming;
  shared_.limits->streams.Begin();
  stream_counted_ = true;
  stream_end_queued_ = false;
  ++stream_id_;
  // The watching read has no timeout: a stream may be quiet for seconds between events. Each
  // write below gets idle_timeout (the stream's read and write timers are separate).
  Tcp().expires_never();
  ProbeRead();
  stream_writing_ = true;
  Tcp().expires_after(shared_.options->idle_timeout);
  http::async_write_header(
      stream_, *stream_serializer_,
      beast::bind_front_handler(&HttpSession<Stream>::OnStreamHeader, shared_from_this()));
  body_stream_->Start(
      std::make_shared<StreamSink>(weak_from_this(), stream_id_, *shared_.completions));
}

template <typename Stream>
void HttpSession<Stream>::OnStreamHeader(beast::error_code ec, size_t /*bytes*/) {
  stream_writing_ = false;
  if (stream_state_ != StreamState::kStreaming) return;
  if (ec) {
    AbortStream();
    return;
  }
  stream_serializer_.reset();
  stream_header_.reset();
  WriteNextChunk();
}

template <typename Stream>
void HttpSession<Stream>::QueueChunk(uint64_t stream_id, std::string bytes,
                                     std::function<void()> written) {
  if (stream_id != stream_id_ || stream_state_ != StreamState::kStreaming || stream_end_queued_) {
    return;  // a stream that was cancelled or ended
  }
  if (bytes.empty()) {
    // An empty chunk would end the body; nothing to send, so it is written at once.
    if (written) written();
    return;
  }
  // Forced: the producer already holds these bytes, and keeps about one event queued.
  shared_.limits->budget.ForceReserve(bytes.size());
  stream_reserved_ += bytes.size();
  chunks_.push_back(Chunk{std::move(bytes), std::move(written)});
  if (!stream_writing_) WriteNextChunk();
}

template <typename Stream>
void HttpSession<Stream>::QueueEnd(uint64_t stream_id) {
  if (stream_id != stream_id_ || stream_state_ != StreamState::kStreaming) return;
  stream_end_queued_ = true;
  if (!stream_writing_) WriteNextChunk();
}

template <typename Stream>
void HttpSession<Stream>::WriteNextChunk() {
  static constexpr std::string_view kCrlf = "\r\n";
  static constexpr std::string_view kLastChunk = "0\r\n\r\n";
  if (chunks_.empty()) {
    if (!stream_end_queued_) return;
    if (!stream_chunked_) {
      FinishStream();
      return;
    }
    stream_writing_ = true;
    Tcp().expires_after(shared_.options->idle_timeout);
    net::async_write(stream_, net::buffer(kLastChunk.data(), kLastChunk.size()),
                     beast::bind_front_handler(&HttpSession<Stream>::OnChunkWritten,
                                               shared_from_this(), /*last=*/true));
    return;
  }
  chunk_ = std::move(chunks_.front());
  chunks_.pop_front();
  std::array<net::const_buffer, 3> buffers{};
  buffers[1] = net::buffer(chunk_.bytes);
  if (stream_chunked_) {
    chunk_size_line_ = fmt::format("{:x}\r\n", chunk_.bytes.size());
    buffers[0] = net::buffer(chunk_size_line_);
    buffers[2] = net::buffer(kCrlf.data(), kCrlf.size());
  }
  stream_writing_ = true;
  Tcp().expires_after(shared_.options->idle_timeout);
  net::async_write(stream_, buffers,
                   beast::bind_front_handler(&HttpSession<Stream>::OnChunkWritten,
                                             shared_from_this(), /*last=*/false));
}

template <typename Stream>
void HttpSession<Stream>::OnChunkWritten(bool last, beast::error_code ec, size_t /*bytes*/) {
  stream_writing_ = false;
  if (stream_state_ != StreamState::kStreaming) return;
  if (ec) {
    AbortStream();  // the client is gone, or did not read within idle_timeout
    return;
  }
  if (last) {
    FinishStream();
    return;
  }
  const uint64_t size = chunk_.bytes.size();
  stream_reserved_ -= size;
  shared_.limits->budget.Release(size);
  GiveResponseBuffer(std::move(chunk_.bytes));
  chunk_.bytes = std::string();
  std::function<void()> written = std::move(chunk_.written);
  chunk_.written = nullptr;
  // The producer may queue its next event now (posted, so never within this call).
  if (written) written();
  WriteNextChunk();
}

template <typename Stream>
void HttpSession<Stream>::FinishStream() {
  body_stream_.reset();
  stream_state_ = StreamState::kNone;
  ReleaseStreamReservation();
  UncountStream();
  between_requests_ = true;
  if (probing_) {
    // The watching read has no timeout and must not overlap the next one: cancelled, it ends in
    // OnProbe, which goes on with the next request or closes.
    beast::error_code ignored;  // nothing pending is harmed: OnProbe handles the abort
    Tcp().socket().cancel(ignored);
    return;
  }
  if (!stream_keep_alive_) {
    Close();  // HTTP/1.0: the body ends with the connection; or the client asked to close
    return;
  }
  DoRead();
}

template <typename Stream>
void HttpSession<Stream>::AbortStream() {
  if (std::shared_ptr<BodyStream> producer = std::move(body_stream_)) producer->Cancel();
  stream_state_ = StreamState::kAborted;
  chunks_.clear();
  chunk_ = Chunk{};
  ReleaseStreamReservation();
  UncountStream();
  // A hard close: pending writes and the watching read end with an error, which the handlers
  // above ignore now that the stream is aborted.
  beast::error_code ignored;  // the connection is finished either way
  Tcp().socket().close(ignored);
}

template <typename Stream>
void HttpSession<Stream>::ProbeRead() {
  probing_ = true;
  stream_.async_read_some(
      buffer_.prepare(std::max<size_t>(buffer_.capacity() - buffer_.size(), 512)),
      beast::bind_front_handler(&HttpSession<Stream>::OnProbe, shared_from_this()));
}

template <typename Stream>
void HttpSession<Stream>::OnProbe(beast::error_code ec, size_t bytes) {
  probing_ = false;
  if (!ec) buffer_.commit(bytes);
  switch (stream_state_) {
    case StreamState::kStreaming:
      // Bytes are the client's next request: they wait in buffer_ until the stream ends, and
      // no more is read meanwhile. An error is the client gone.
      if (ec) AbortStream();
      return;
    case StreamState::kAborted:
      return;
    case StreamState::kNone:
      break;
  }
  // The stream ended while this read was pending (FinishStream cancelled it).
  if (!stream_keep_alive_ || (ec && ec != net::error::operation_aborted)) {
    Close();
    return;
  }
  DoRead();
}

template <typename Stream>
void HttpSession<Stream>::UncountStream() {
  if (!std::exchange(stream_counted_, false)) return;
  shared_.limits->streams.End();
}

template <typename Stream>
void HttpSession<Stream>::ReleaseStreamReservation() {
  if (stream_reserved_ == 0) return;
  shared_.limits->budget.Release(stream_reserved_);
  stream_reserved_ = 0;
}

// The members defined here, for both stream types; the rest of HttpSession is instantiated with
// the class in http_session.cc (whose extern template declarations every other file sees).
#define TIDELINE_INSTANTIATE_STREAMING(S)                                                 \
  template void HttpSession<S>::StartStream(ApiResponse, unsigned, bool);                 \
  template void HttpSession<S>::OnStreamHeader(beast::error_code, size_t);                \
  template void HttpSession<S>::QueueChunk(uint64_t, std::string, std::function<void()>); \
  template void HttpSession<S>::QueueEnd(uint64_t);                                       \
  template void HttpSession<S>::WriteNextChunk();                                         \
  template void HttpSession<S>::OnChunkWritten(bool, beast::error_code, size_t);          \
  template void HttpSession<S>::FinishStream();                                           \
  template void HttpSession<S>::AbortStream();                                            \
  template void HttpSession<S>::ProbeRead();                                              \
  template void HttpSession<S>::OnProbe(beast::error_code, size_t);                       \
  template void HttpSession<S>::UncountStream();                                          \
  template void HttpSession<S>::ReleaseStreamReservation();
TIDELINE_INSTANTIATE_STREAMING(PlainStream)
TIDELINE_INSTANTIATE_STREAMING(TlsStream)
#undef TIDELINE_INSTANTIATE_STREAMING

}  // namespace tideline::server
