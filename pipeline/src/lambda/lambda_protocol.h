// Firehose's data-transformation contract, as bytes: the request a transformation Lambda gets
// and the per-record outcomes of its response. No I/O here; lambda_processor.cc batches and
// retries, lambda_transport.cc carries the bytes.
//
// Error codes are the ones Firehose writes into processing-failed records (errorCode):
// - Lambda.JsonProcessingException, Lambda.MissingRecordId, Lambda.DuplicatedRecordId,
//   Lambda.InvokeLimitExceeded, Lambda.InvokeAccessDenied, Lambda.ResourceNotFound: the
//   "Lambda invocation errors" table of the Firehose developer guide (Monitoring with CloudWatch
//   Logs), with its messages.
// - Lambda.ProcessingFailedStatus ("ProcessingFailed status set for record") and
//   Lambda.FunctionError ("The Lambda function was successfully invoked but it returned an error
//   result."): what Firehose writes for a record the function marked ProcessingFailed and for a
//   failed invocation once its retries are spent (attemptsMade = retries + 1). The guide shows the
//   record format ("Handle failure in data transformation") but not these two values.
// - Lambda.RequestEntityTooLargeException: one record whose request alone is over Lambda's 6 MB
//   synchronous payload limit ("Transform source data"), named as the table names Lambda's own
//   exceptions (Lambda.<Exception>). It is never sent.
//
// Thread safety: every function is pure and may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tideline::pipeline::lambda {

inline constexpr std::string_view kJsonProcessingException = "Lambda.JsonProcessingException";
inline constexpr std::string_view kMissingRecordId = "Lambda.MissingRecordId";
inline constexpr std::string_view kDuplicatedRecordId = "Lambda.DuplicatedRecordId";
inline constexpr std::string_view kProcessingFailedStatus = "Lambda.ProcessingFailedStatus";
inline constexpr std::string_view kFunctionError = "Lambda.FunctionError";
inline constexpr std::string_view kInvokeLimitExceeded = "Lambda.InvokeLimitExceeded";
inline constexpr std::string_view kInvokeAccessDenied = "Lambda.InvokeAccessDenied";
inline constexpr std::string_view kResourceNotFound = "Lambda.ResourceNotFound";
inline constexpr std::string_view kRequestTooLarge = "Lambda.RequestEntityTooLargeException";

// Firehose's messages for the codes that concern one record. Invocation failures carry what
// actually went wrong instead (HTTP status, timeout, exit status, parse error).
inline constexpr std::string_view kMissingRecordIdMessage =
    "One or more record IDs were not returned. Ensure that the Lambda function returns all "
    "received record IDs.";
inline constexpr std::string_view kDuplicatedRecordIdMessage =
    "Multiple records were returned with the same record ID. Ensure that the Lambda function "
    "returns unique record IDs for each record.";
inline constexpr std::string_view kProcessingFailedMessage =
    "ProcessingFailed status set for record";

// Lambda's synchronous invocation payload limit, for requests and responses (6 MB as Lambda
// counts it: 6 MiB).
inline constexpr size_t kMaxPayloadBytes = 6u << 20;

// What every record of one request shares.
struct RequestContext {
  std::string_view delivery_stream_arn;  // arn:aws:firehose:<region>:<account>:deliverystream/<p>
  std::string_view source_stream_arn;    // arn:aws:kinesis:<region>:<account>:stream/<stream>
  std::string_view region;
  std::string_view shard_id;
};

struct RequestRecord {
  std::string_view record_id;
  int64_t arrival_ms = 0;
  std::string_view data;  // raw bytes; encoded as base64
  std::string_view partition_key;
  std::string_view sequence_number;
};

// Appends one element of the request's "records" array (a compact JSON object, no separator).
void AppendRecordEntry(const RequestContext& context, const RequestRecord& record,
                       std::string& out);

// Size of a request whose records array text is empty; a request is exactly this plus the
// entries and the commas between them.
size_t RequestEnvelopeBytes(const RequestContext& context);

// The whole request: `records_json` is entries from AppendRecordEntry joined with ','.
// The result is one line (no raw newline: strings are escaped, data is base64).
std::string EncodeRequest(const RequestContext& context, std::string_view invocation_id,
                          std::string_view records_json);

// A random (version 4) UUID, as Firehose's invocationId.
std::string NewInvocationId();

// What the response says about one record of the request.
struct RecordOutcome {
  enum class Kind : uint8_t { kOk, kDropped, kFailed };
  Kind kind = Kind::kFailed;
  std::string data;        // decoded bytes, kOk only
  std::string error_code;  // kFailed only
  std::string error_message;
};

struct ParsedResponse {
  // One per requested record id, in request order.
  std::vector<RecordOutcome> outcomes;
  // Response entries whose recordId was not in the request: ignored, since they concern no
  // record (the record whose id was replaced fails as missing).
  size_t unknown_ids = 0;
};

// Parses a response to a request carrying `record_ids` (distinct).
//
// A body that is not a JSON object with a "records" array is not a response at all: the
// invocation failed (InvalidArgument, message saying why) and may be retried. Otherwise each
// record gets its own outcome, and problems fail only the records they concern:
// - no entry with its id: Lambda.MissingRecordId; more than one: Lambda.DuplicatedRecordId;
// - "ProcessingFailed": Lambda.ProcessingFailedStatus;
// - an entry that breaks the status model (result not Ok/Dropped/ProcessingFailed, Ok without a
//   string "data", "data" not strict base64): Lambda.JsonProcessingException;
// - entries that are not objects or lack a string recordId concern no record and are skipped.
Result<ParsedResponse> ParseResponse(std::string_view body,
                                     std::span<const std::string> record_ids);

}  // namespace tideline::pipeline::lambda
