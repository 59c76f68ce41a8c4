// server/src/cbor_codec.h: CBOR request bodies from outside. Decoding never crashes, never
// grows beyond a small multiple of the input, and yields JSON the handlers' bounded parser
// accepts; what decodes re-encodes and decodes again to a fixed point.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "cbor_codec.h"
#include "common/json_parse.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tideline::server::cbor;
  const std::string_view in(reinterpret_cast<const char*>(data), size);

  const tideline::Result<std::string> json = DecodeRequest(in);
  if (!json.ok()) {
    FUZZ_CHECK(json.status().message().starts_with("Invalid CBOR at byte "));
    return 0;
  }
  // The widest growth is a one-byte item written as "\u00XX" or a short float as its digits.
  FUZZ_CHECK(json.value().size() <= 8 * size + 64);
  rapidjson::Document doc;
  const auto error = tideline::json::ParseJson(doc, json.value(), tideline::json::kApiBodyLimits);
  FUZZ_CHECK(!error.has_value());

  // Encoding what was decoded (no shape, then GetRecords's) succeeds or fails cleanly, and
  // decode(encode(x)) is a fixed point after one round (tag-1 seconds become plain doubles).
  const tideline::Result<std::string> cbor1 = EncodeResponse({}, json.value());
  FUZZ_CHECK(cbor1.ok());
  const tideline::Result<std::string> json2 = DecodeRequest(cbor1.value());
  FUZZ_CHECK(json2.ok());
  const tideline::Result<std::string> cbor2 = EncodeResponse({}, json2.value());
  FUZZ_CHECK(cbor2.ok());
  FUZZ_CHECK(cbor2.value() == cbor1.value());
  const tideline::Result<std::string> shaped = EncodeResponse("GetRecords", json.value());
  if (shaped.ok()) FUZZ_CHECK(DecodeRequest(shaped.value()).ok());
  return 0;
}
