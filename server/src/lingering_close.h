// The lingering close both HTTP sessions end a connection with, once their last bytes are
// written: half-close, then read and discard what the peer still sends, bounded in bytes and
// time, before closing. Closing at once with unread data makes the kernel send a TCP reset, and
// a client still sending (the rest of a body over the limit, frames after a GOAWAY) could lose
// the response it has not read yet.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace tideline::server {

// How long a closing connection may take to close its side (and, with TLS, to answer
// close_notify), and how much of what it sends meanwhile is read.
inline constexpr std::chrono::seconds kLingerTimeout{5};
inline constexpr size_t kLingerMaxBytes = 64u << 20;

// Starts the lingering close of `tcp`. `scratch` receives the discarded bytes; `owner` (the
// session) keeps `tcp` and `scratch` alive until the socket is closed.
void LingeringClose(boost::beast::tcp_stream& tcp, boost::asio::mutable_buffer scratch,
                    std::shared_ptr<void> owner);

}  // namespace tideline::server
