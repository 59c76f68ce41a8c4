#include "subscription.h"

#include <sys/socket.h>

#include <array>

#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "json_scan.h"
#include "kinesis_admin.h"

namespace tideline::fanout {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::string SubscribeBody(std::string_view consumer_arn, std::string_view shard_id,
                          const StartingPosition& position) {
  std::string body = "{\"ConsumerARN\":";
  loadgen::AppendJsonString(body, consumer_arn);
  body += ",\"ShardId\":";
  loadgen::AppendJsonString(body, shard_id);
  body += ",\"StartingPosition\":{\"Type\":";
  loadgen::AppendJsonString(body, position.type);
  if (!position.sequence_number.empty()) {
    body += ",\"SequenceNumber\":";
    loadgen::AppendJsonString(body, position.sequence_number);
  }
  body += "}}";
  return body;
}

Subscription::Subscription(Endpoint endpoint) : endpoint_(std::move(endpoint)), socket_(ioc_) {}

void Subscription::Close() {
  native_fd_.store(-1);
  tls_.reset();
  boost::system::error_code ignored;  // Closing a broken socket may fail; it is gone anyway.
  socket_.close(ignored);
  buffer_.clear();
}

void Subscription::Abort() {
  aborted_.store(true);
  int fd = native_fd_.load();
  // shutdown (not close) so the fd is not reused while the owner still holds it.
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

SubscriptionResult Subscription::Run(std::string_view body, const OnOpen& on_open,
                                     const OnEvent& on_event) {
  SubscriptionResult result;
  decoder_ = eventstream::Decoder();
  if (aborted_.load()) {
    result.error = "aborted";
    return result;
  }
  if (!loadgen::ConnectTcp(endpoint_, socket_, result.error)) {
    Close();
    return result;
  }
  native_fd_.store(socket_.native_handle());
  if (aborted_.load()) {
    result.error = "aborted";
  } else if (!endpoint_.tls || loadgen::HandshakeTls(endpoint_, socket_, tls_, result.error)) {
    const std::string head = loadgen::KinesisHead(endpoint_, "SubscribeToShard", body);
    if (tls_) {
      Exchange(*tls_, head, body, on_open, on_event, result);
    } else {
      Exchange(socket_, head, body, on_open, on_event, result);
    }
  }
  Close();
  if (result.end == SubscriptionResult::End::kFailed && aborted_.load()) result.error = "aborted";
  return result;
}

template <typename Stream>
void Subscription::Exchange(Stream& stream, std::string_view head, std::string_view body,
                            const OnOpen& on_open, const OnEvent& on_event,
                            SubscriptionResult& result) {
  boost::system::error_code ec;
  const std::array<asio::const_buffer, 2> parts = {asio::buffer(head.data(), head.size()),
                                                   asio::buffer(body.data(), body.size())};
  asio::write(stream, parts, ec);
  if (buffer_.capacity() < kReadBufferBytes) buffer_.reserve(kReadBufferBytes);
  http::response_parser<http::empty_body> parser;
  // A refusal's body; a subscription's is lifted below. (Beast 1.74 refuses a Content-Length
  // under an unset limit at the header, so the limit is set first.)
  parser.body_limit(kMaxErrorBodyBytes);
  if (!ec) http::read_header(stream, buffer_, parser, ec);
  if (ec) {
    result.error = "SubscribeToShard: " + ec.message();
    return;
  }
  if (parser.get().result_int() != 200) {
    // A refusal is a whole (small) JSON error body.
    http::response_parser<http::string_body> error_parser(std::move(parser));
    http::read(stream, buffer_, error_parser, ec);
    loadgen::HttpResponse response{error_parser.get().result_int(), error_parser.get().body()};
    result.end = SubscriptionResult::End::kRefused;
    result.error_type = loadgen::ScanString(response.body, "__type").value_or("");
    result.error = "SubscribeToShard: " + loadgen::DescribeError(response);
    return;
  }
  if (!parser.chunked()) {
    result.error = "SubscribeToShard: the 200 response is not chunked (HTTP/1.1 event stream)";
    return;
  }
  parser.body_limit(boost::none);  // a subscription's body is as long as the subscription
  if (on_open) on_open();
  // The chunks' bytes go straight from the read buffer to the decoder.
  bool reading = true;
  auto on_chunk = [&](uint64_t /*remain*/, boost::beast::string_view bytes,
                      boost::system::error_code& chunk_ec) -> size_t {
    result.body_bytes += bytes.size();
    if (reading && !Consume({bytes.data(), bytes.size()}, on_event, result)) {
      reading = false;
      chunk_ec = http::error::end_of_stream;  // stops the parser; `result` says why
    }
    return bytes.size();
  };
  parser.on_chunk_body(on_chunk);
  while (reading && !parser.is_done()) {
    http::read_some(stream, buffer_, parser, ec);
    if (!reading) return;
    if (ec) {
      result.error = "SubscribeToShard body: " + ec.message();
      return;
    }
  }
  if (decoder_.buffered() > 0) {
    result.error = "SubscribeToShard: the body ended inside an event-stream message";
    return;
  }
  result.end = SubscriptionResult::End::kEndedByServer;
}

bool Subscription::Consume(std::string_view bytes, const OnEvent& on_event,
                           SubscriptionResult& result) {
  messages_.clear();
  Status status = decoder_.Feed(bytes, &messages_);
  if (!status.ok()) {
    result.error = "SubscribeToShard event stream: " + status.ToString();
    return false;
  }
  for (const eventstream::Message& message : messages_) {
    ++result.events;
    const std::string_view type = message.Header(":message-type");
    if (type == "event") {
      // initial-response (an empty object) and event types this client does not know are
      // skipped, as the SDKs do.
      if (message.Header(":event-type") != "SubscribeToShardEvent") continue;
      if (!on_event(message.payload)) {
        result.end = SubscriptionResult::End::kStopped;
        return false;
      }
    } else if (type == "exception") {
      result.error_type = std::string(message.Header(":exception-type"));
      result.error = "SubscribeToShard exception event " + result.error_type + ": " +
                     loadgen::ScanString(message.payload, "message").value_or(message.payload);
      return false;
    } else {
      result.error = "SubscribeToShard: event-stream message of type '" + std::string(type) +
                     "': " + std::string(message.Header(":error-message"));
      return false;
    }
  }
  return true;
}

}  // namespace tideline::fanout
