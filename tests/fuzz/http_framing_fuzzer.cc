// The HTTP session's framing (server/src/http_session.cc): Beast's request parser with the
// limits the session sets, fed a connection's bytes in random-sized receives, with pipelined
// requests parsed one after another from the same buffer, as the session does.
//
// Input layout (FuzzedDataProvider): receive sizes are taken from the end of the input, the
// bytes from the front.
#include <fuzzer/FuzzedDataProvider.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "fuzz_check.h"
#include "server/server.h"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using Parser = http::request_parser<http::string_body>;

// The session's limits: the body limit from ServerOptions (its default), Beast's default header
// limit (the session does not change it).
const size_t kBodyLimit = tideline::server::ServerOptions{}.max_body_bytes;

void NewParser(std::optional<Parser>& parser) {
  parser.emplace();
  parser->body_limit(kBodyLimit);
}

// What the session reads from a complete request.
void Inspect(Parser& parser) {
  const auto length = parser.content_length();
  auto req = parser.release();
  FUZZ_CHECK(req.body().size() <= kBodyLimit);
  if (length) FUZZ_CHECK(req.body().size() == *length);
  (void)req.keep_alive();
  (void)req.version();
  (void)req.method();
  (void)req.target();
  auto it = req.find("X-Amz-Target");
  if (it != req.end()) (void)it->value();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  beast::flat_buffer buffer;
  std::optional<Parser> parser;
  NewParser(parser);
  while (fdp.remaining_bytes() > 0) {
    const size_t receive = fdp.ConsumeIntegralInRange<size_t>(1, 4096);
    const std::vector<uint8_t> bytes = fdp.ConsumeBytes<uint8_t>(receive);
    if (bytes.empty()) break;
    buffer.commit(
        boost::asio::buffer_copy(buffer.prepare(bytes.size()), boost::asio::buffer(bytes)));
    for (;;) {
      beast::error_code ec;
      const size_t used = parser->put(buffer.data(), ec);
      buffer.consume(used);
      if (ec == http::error::need_more) break;
      if (ec) return 0;  // the session answers 413 or closes; the connection ends
      if (parser->is_done()) {
        Inspect(*parser);
        NewParser(parser);
        continue;
      }
      if (used == 0) break;
    }
  }
  // The peer closes: a body delimited by end of stream completes, anything else is an error.
  beast::error_code ec;
  if (parser->is_header_done()) {
    parser->put_eof(ec);
    if (!ec && parser->is_done()) Inspect(*parser);
  }
  return 0;
}
