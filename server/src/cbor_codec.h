// The Kinesis API's CBOR protocol (Content-Type application/x-amz-cbor-1.1), the default of the
// AWS SDKs for Java (v1 and v2, hence KCL, Flink and Spark), translated at the API boundary to
// and from the JSON 1.1 documents the handlers read and write, so that no handler knows CBOR.
//
// The wire format, as the SDKs write and read it:
//   - a request or response body is one CBOR map, the JSON document's members with the same
//     names and nesting;
//   - blob members (Data) are byte strings, not base64 text;
//   - timestamp members (Timestamp, ApproximateArrivalTimestamp, StreamCreationTimestamp, ...)
//     are tag 1 over an integer count of epoch MILLISECONDS (not RFC 8949's seconds): the SDKs'
//     SdkCborGenerator writes Instant.toEpochMilli() under tag 1 and their unmarshallers read
//     the number as milliseconds;
//   - errors are a map {"__type": ..., "message": ...} with the JSON protocol's HTTP status and
//     x-amzn-ErrorType header, answered as application/x-amz-cbor-1.1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api_types.h"
#include "common/status.h"

namespace tideline::server::cbor {

inline constexpr std::string_view kContentType = "application/x-amz-cbor-1.1";

// True for a request Content-Type that selects the CBOR protocol (parameters after ';' allowed).
bool IsCborContentType(std::string_view content_type);

struct DecodeLimits {
  // Deepest nesting of arrays and maps; a top-level map is depth 1.
  // Default: 16 (json::kApiBodyLimits.max_depth: Kinesis shapes are a few levels deep)
  uint32_t max_depth = 16;
  // Most values (scalars, arrays, maps; keys not counted) in one body.
  // Default: 16384 (json::kApiBodyLimits.max_values)
  size_t max_values = 16384;
};

// Decodes a CBOR request body into the JSON text the handlers parse: byte strings become base64
// strings, tag-1 epoch milliseconds become epoch seconds with three decimals (what
// FieldReader::TimestampMs reads), other tags are transparent. Exactly one well-formed item and
// nothing after it; text strings and map keys must be strict UTF-8, map keys text strings;
// NaN/Infinity, `undefined`, integers below INT64_MIN and unknown simple values are refused.
// Decoding never allocates by a length the input declares: libcbor's streaming decoder hands
// over slices of `body`, and a declared length or count larger than the bytes left is an error
// before anything is reserved, so memory stays within a small multiple of body.size(). Fails
// with InvalidArgument and a message naming the byte offset (an API SerializationException).
Result<std::string> DecodeRequest(std::string_view body, const DecodeLimits& limits = {});

// Encodes a JSON response document the handlers wrote (or an error body) as CBOR. `operation`
// (e.g. "GetRecords"; empty for an error body) selects, from the table generated from
// botocore's model (cbor_shapes.inc), the members sent as byte strings (base64 text decoded)
// and as tag 1 over integer epoch milliseconds (from the epoch-seconds numbers, exact to the
// millisecond). Maps and arrays get definite lengths. `json` is trusted to be UTF-8 (the
// handlers' writer guarantees it). Fails (Internal) only on text that is not JSON, nesting past
// 64 levels or a blob member that is not base64: each a bug of the handler that wrote it.
Result<std::string> EncodeResponse(std::string_view operation, std::string_view json);

// `resp` as the CBOR protocol answers it: body encoded by EncodeResponse (the output shape of
// `operation` for a success, none for an error), content type kContentType; status, error type
// and counters unchanged. A body that cannot be encoded becomes an InternalFailure. A streamed
// response (ApiResponse::stream, SubscribeToShard) passes unchanged: its events are encoded by
// their producer, in CBOR for a CBOR request (HandlerContext::cbor).
ApiResponse ToCborResponse(std::string_view operation, ApiResponse resp);

}  // namespace tideline::server::cbor
