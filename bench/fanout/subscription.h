// One SubscribeToShard call over HTTP/1.1 with synchronous Boost.Beast I/O, plain or HTTPS: the
// response body is an event stream (application/vnd.amazon.eventstream) in chunked transfer
// encoding, decoded as it arrives by common's eventstream::Decoder.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "common/event_stream.h"
#include "http_connection.h"

namespace tideline::fanout {

using loadgen::Endpoint;

// StartingPosition of SubscribeToShard.
struct StartingPosition {
  // TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER.
  std::string type = "LATEST";
  // For AT_ / AFTER_SEQUENCE_NUMBER.
  std::string sequence_number;
};

// The JSON body of a SubscribeToShard request.
[[nodiscard]] std::string SubscribeBody(std::string_view consumer_arn, std::string_view shard_id,
                                        const StartingPosition& position);

struct SubscriptionResult {
  enum class End {
    kEndedByServer,  // the body ended (the subscription's time was up): subscribe again
    kStopped,        // the event callback asked to stop
    kRefused,        // a non-200 answer; `error_type` holds its __type
    kFailed,         // a transport, framing or event-stream error, or an exception event
  };
  End end = End::kFailed;
  // Kinesis __type of a refusal or of an exception event.
  std::string error_type;
  std::string error;
  // Event-stream messages and body bytes received.
  uint64_t events = 0;
  uint64_t body_bytes = 0;
};

// Not thread-safe: one thread runs a subscription, except Abort() which any thread may call.
class Subscription {
 public:
  // Called with the JSON payload of each SubscribeToShardEvent, on the reading thread; returns
  // false to stop reading (the connection is then closed).
  using OnEvent = std::function<bool(std::string_view payload)>;
  // Called once the server has answered 200, before the first event.
  using OnOpen = std::function<void()>;

  static constexpr size_t kReadBufferBytes = 256u << 10;
  // Largest body of a refusal that is read.
  static constexpr uint64_t kMaxErrorBodyBytes = 1u << 20;

  explicit Subscription(Endpoint endpoint);
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  // Connects, sends SubscribeToShard with `body` (SubscribeBody) and reads events until one of
  // the ends of SubscriptionResult. Every call uses a new connection: a subscription's
  // connection is not reused.
  [[nodiscard]] SubscriptionResult Run(std::string_view body, const OnOpen& on_open,
                                       const OnEvent& on_event);

  // Ends a Run blocked in another thread (it then fails with "aborted"). Safe from any thread.
  void Abort();

 private:
  template <typename Stream>
  void Exchange(Stream& stream, std::string_view head, std::string_view body, const OnOpen& on_open,
                const OnEvent& on_event, SubscriptionResult& result);
  // Decodes `bytes` of the body and hands each event to `on_event`; false once reading ends.
  bool Consume(std::string_view bytes, const OnEvent& on_event, SubscriptionResult& result);
  void Close();

  Endpoint endpoint_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;
  boost::beast::flat_buffer buffer_;
  eventstream::Decoder decoder_;
  std::vector<eventstream::Message> messages_;
  // Native handle of the open socket, or -1; read by Abort() from other threads.
  std::atomic<int> native_fd_{-1};
  std::atomic<bool> aborted_{false};
};

}  // namespace tideline::fanout
