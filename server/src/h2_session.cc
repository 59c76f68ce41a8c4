#include "h2_session.h"

#include <algorithm>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>

#include "lingering_close.h"
#include "logging.h"

namespace tideline::server {

namespace beast = boost::beast;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;

template <typename Stream>
H2Session<Stream>::H2Session(Stream&& stream, const SessionShared& shared,
                             ConnectionGate::Slot slot, std::shared_ptr<ssl::context> tls,
                             std::string preread)
    : tls_(std::move(tls)),
      stream_(std::move(stream)),
      shared_(shared),
      slot_(slot),
      preread_(std::move(preread)),
      read_buffer_(new uint8_t[kIdleReadBuffer]),
      read_buffer_size_(kIdleReadBuffer),
      timer_(stream_.get_executor()) {}

template <typename Stream>
H2Session<Stream>::~H2Session() {
  // Runs when the last handler of the session is gone, possibly while the io_context is being
  // destroyed: only the shared Limits may be touched here (and the connection's own state).
  conn_.reset();
  shared_.limits->counters.connections_closed.fetch_add(1, std::memory_order_relaxed);
  shared_.limits->gate.Release(slot_);
}

template <typename Stream>
void H2Session<Stream>::Run() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Start(); });
}

template <typename Stream>
void H2Session<Stream>::Start() {
  // Timeouts are the connection's (one timer), not the stream's per operation.
  Tcp().expires_never();
  beast::error_code ec;
  // Frames are gathered into one write per turn; Nagle would only hold the next turn's small
  // write (a SETTINGS ACK, a response) back for the client's delayed ACK.
  Tcp().socket().set_option(net::ip::tcp::no_delay(true), ec);  // an optimisation: ignorable
  H2Config config;
  config.options = shared_.options;
  config.limits = shared_.limits;
  config.record_ceiling = shared_.record_ceiling;
  config.slot = slot_;
  const Router* router = shared_.router;
  config.classify = [router](beast::http::verb method, std::string_view target,
                             std::string_view amz_target) {
    return router->Classify(method, target, amz_target);
  };
  config.on_request = [this](int32_t stream_id, RouterRequest request) {
    OnRequest(stream_id, std::move(request));
  };
  // Streamed bodies write from other threads: back to the strand, then whatever the write
  // allows is sent. Nothing runs once the session is gone.
  config.post = [weak = weak_from_this(),
                 completions = shared_.completions](std::function<void()> task) {
    auto self = weak.lock();
    if (!self) return;
    auto executor = self->stream_.get_executor();
    completions->Post(executor, [self = std::move(self), task = std::move(task)] {
      if (self->closing_) return;
      task();
      self->Pump();
    });
  };
  conn_.emplace(std::move(config));
  if (!preread_.empty()) {
    receiving_ = true;
    conn_->Receive(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(preread_.data()),
                                            preread_.size()));
    receiving_ = false;
    std::string().swap(preread_);
  }
  Pump();
}

template <typename Stream>
void H2Session<Stream>::Pump() {
  if (closing_) return;
  if (!writing_) {
    const std::string_view out = conn_->Output();
    if (!out.empty()) {
      writing_ = true;
      net::async_write(stream_, net::buffer(out.data(), out.size()),
                       beast::bind_front_handler(&H2Session::OnWrite, shared_from_this()));
    }
  }
  if (!reading_ && !receiving_ && conn_->WantsRead()) {
    const size_t want = conn_->streams() > 0 ? kBodyReadBuffer : kIdleReadBuffer;
    if (read_buffer_size_ != want) {
      read_buffer_.reset(new uint8_t[want]);
      read_buffer_size_ = want;
    }
    reading_ = true;
    stream_.async_read_some(net::buffer(read_buffer_.get(), read_buffer_size_),
                            beast::bind_front_handler(&H2Session::OnRead, shared_from_this()));
  }
  // Finished while a write is in flight only when that write is abandoned (it timed out, or
  // the connection failed): Close cancels it.
  if (conn_->Finished()) {
    Close();
    return;
  }
  ArmTimer();
}

template <typename Stream>
void H2Session<Stream>::OnRead(beast::error_code ec, size_t bytes) {
  reading_ = false;
  if (closing_) {
    if (!writing_) FinishClose();
    return;
  }
  if (ec) {
    // The client closed or reset the connection: HTTP/2 has nothing left to tell it.
    Close();
    return;
  }
  receiving_ = true;
  conn_->Receive(std::span<const uint8_t>(read_buffer_.get(), bytes));
  receiving_ = false;
  Pump();
}

template <typename Stream>
void H2Session<Stream>::OnWrite(beast::error_code ec, size_t /*bytes*/) {
  writing_ = false;
  if (closing_) {
    if (!reading_) FinishClose();
    return;
  }
  if (ec) {
    Close();
    return;
  }
  conn_->OutputWritten();
  Pump();
}

template <typename Stream>
void H2Session<Stream>::ArmTimer() {
  const auto next = conn_->NextDeadline();
  // A wait already due at or before `next` will look again when it fires.
  if (next == std::chrono::steady_clock::time_point::max() || armed_for_ <= next) return;
  armed_for_ = next;
  const uint64_t generation = ++timer_generation_;
  timer_.expires_at(next);  // cancels an earlier wait, whose handler sees another generation
  timer_.async_wait(beast::bind_front_handler(&H2Session::OnTimer, shared_from_this(), generation));
}

template <typename Stream>
void H2Session<Stream>::OnTimer(uint64_t generation, beast::error_code /*ec*/) {
  if (generation != timer_generation_ || closing_) return;
  armed_for_ = std::chrono::steady_clock::time_point::max();
  conn_->CheckDeadlines();
  Pump();
}

template <typename Stream>
void H2Session<Stream>::OnRequest(int32_t stream_id, RouterRequest request) {
  auto self = shared_from_this();
  // As in HttpSession::HandleRequest: what respond_on keeps of the session is let go before
  // its Hold, so Server::Stop, which waits for every Hold, never destroys the io_context under
  // it.
  struct Posting {
    Posting(CompletionPoster& poster, std::shared_ptr<H2Session> s)
        : hold(poster), session(std::move(s)) {}
    CompletionPoster::Hold hold;         // destroyed last
    std::shared_ptr<H2Session> session;  // destroyed first
  };
  auto posting = std::make_shared<Posting>(*shared_.completions, self);
  shared_.router->Dispatch(
      std::move(request),
      [self, stream_id](ApiResponse resp) {
        self->conn_->Respond(stream_id, std::move(resp));
        self->Pump();
      },
      [posting = std::move(posting)](std::function<void()> task) {
        H2Session& s = *posting->session;
        s.shared_.completions->Post(s.stream_.get_executor(), std::move(task));
      });
}

template <typename Stream>
void H2Session<Stream>::Close() {
  if (closing_) return;
  closing_ = true;
  conn_->Shutdown();  // streamed bodies are cancelled; late answers are dropped
  ++timer_generation_;
  timer_.cancel();
  if (reading_ || writing_) {
    Tcp().cancel();  // the handlers in flight finish the close
    return;
  }
  FinishClose();
}

template <typename Stream>
void H2Session<Stream>::FinishClose() {
  if constexpr (kTls) {
    // As HttpSession::Close: close_notify says the output is complete, not cut off.
    Tcp().expires_after(kLingerTimeout);
    stream_.async_shutdown(
        [self = shared_from_this()](beast::error_code /*ec*/) { self->CloseTcp(); });
    return;
  }
  CloseTcp();
}

template <typename Stream>
void H2Session<Stream>::CloseTcp() {
  // A client still sending would get a reset and could lose the GOAWAY.
  LingeringClose(Tcp(), net::buffer(read_buffer_.get(), read_buffer_size_), shared_from_this());
}

template class H2Session<PlainStream>;
template class H2Session<TlsStream>;

}  // namespace tideline::server
