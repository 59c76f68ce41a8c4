// common/event_stream.h: the decoder on arbitrary bytes, fed whole and in pieces, and the
// encoder's output decoding back to what was encoded.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/event_stream.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace es = tideline::eventstream;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  // Whole: messages decoded one after another until the input ends or is refused; a message
  // never claims more bytes than it was given.
  std::vector<es::Message> whole;
  size_t at = 0;
  bool failed = false;
  while (at < in.size()) {
    size_t consumed = 0;
    auto decoded = es::DecodeMessage(in.substr(at), &consumed);
    if (!decoded.ok()) {
      failed = true;
      break;
    }
    if (!decoded->has_value()) break;
    FUZZ_CHECK(consumed >= es::kOverhead && consumed <= in.size() - at);
    FUZZ_CHECK((*decoded)->payload.size() <= es::kMaxPayload);
    whole.push_back(std::move(**decoded));
    at += consumed;
  }

  // In pieces (sizes taken from the input): the same messages, the same verdict.
  es::Decoder decoder;
  std::vector<es::Message> pieces;
  bool piece_failed = false;
  const size_t step = size == 0 ? 1 : 1 + data[0] % 7;
  for (size_t i = 0; i < in.size() && !piece_failed; i += step) {
    piece_failed = !decoder.Feed(in.substr(i, step), &pieces).ok();
  }
  FUZZ_CHECK(piece_failed == failed);
  FUZZ_CHECK(pieces.size() == whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    FUZZ_CHECK(pieces[i].payload == whole[i].payload);
    FUZZ_CHECK(pieces[i].headers.size() == whole[i].headers.size());
  }

  // Encoding: the input split into a header value and a payload round trips.
  const std::string_view value = in.substr(0, std::min<size_t>(in.size() / 2, 65535));
  const std::string_view payload = in.substr(value.size());
  std::string encoded;
  const es::StringHeader headers[] = {{":event-type", value}, {":message-type", "event"}};
  es::AppendMessage(encoded, headers, payload);
  size_t consumed = 0;
  auto back = es::DecodeMessage(encoded, &consumed);
  FUZZ_CHECK(back.ok() && back->has_value());
  FUZZ_CHECK(consumed == encoded.size());
  FUZZ_CHECK((*back)->Header(":event-type") == value);
  FUZZ_CHECK((*back)->payload == payload);
  return 0;
}
