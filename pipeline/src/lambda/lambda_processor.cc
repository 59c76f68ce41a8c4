// The `lambda` processor: splits a batch's Ok records into Firehose-style invocations, retries
// failed invocations, and applies the per-record outcomes (see processor.h and
// pipeline/LAMBDA.md).
//
// Batching: records are packed in order while the request stays within max_batch_records and
// max_batch_bytes. Like Firehose's buffering size, max_batch_bytes is a hint a single record can
// exceed: such a record is sent alone. Only a record whose request alone is over Lambda's 6 MiB
// payload limit is never sent; it fails with Lambda.RequestEntityTooLargeException.
//
// Retries: an invocation that fails (transport error, timeout, non-2xx, a body that is not a
// response, a dead or babbling subprocess) is retried `retries` times with a fresh invocationId,
// after 50 ms, 100 ms, ... (capped at 1 s). Then every record of it is ProcessingFailed with the
// last attempt's code and attemptsMade = retries + 1. Problems with single records in a valid
// response are not retried (Firehose's docs retry invocations, not records); they fail only
// those records.
#include <algorithm>
#include <optional>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/regional_stream.h"
#include "lambda/lambda_protocol.h"
#include "lambda/lambda_transport.h"
#include "pipeline/processor.h"

namespace tideline::pipeline {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{50};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
constexpr size_t kMinBatchBytes = 1024;
constexpr int kMaxRetries = 300;
// Decoded data at least this big is moved into the batch rather than copied into its arena.
constexpr size_t kMoveDataBytes = 16u << 10;

// The records of one invocation and their part of the request.
struct Invocation {
  std::vector<PipelineRecord*> records;
  std::vector<std::string> ids;
  std::string records_json;  // entries joined with ','

  void Clear() {
    records.clear();
    ids.clear();
    records_json.clear();
  }
};

class LambdaProcessor final : public Processor {
 public:
  LambdaProcessor(const LambdaOptions& options, std::unique_ptr<lambda::Invoker> invoker)
      : options_(options),
        delivery_stream_arn_("arn:aws:firehose:" + options.account.region + ":" +
                             options.account.account_id + ":deliverystream/" +
                             options.pipeline_name),
        invoker_(std::move(invoker)) {}

  std::string_view type() const override { return "lambda"; }
  void Process(RecordBatch& batch) override;
  void Shutdown() override { invoker_->Shutdown(); }

 private:
  void Invoke(RecordBatch& batch, const lambda::RequestContext& context, Invocation& invocation);
  static void Apply(RecordBatch& batch, Invocation& invocation, lambda::ParsedResponse& parsed,
                    int attempt);

  const LambdaOptions options_;
  const std::string delivery_stream_arn_;
  const std::unique_ptr<lambda::Invoker> invoker_;  // thread-safe
};

void LambdaProcessor::Process(RecordBatch& batch) {
  // A stream of another region than the default ("us-west-2:logs") has that region's ARN.
  const StoredStreamParts stream = SplitStoredStreamName(batch.stream().get());
  const std::string source_stream_arn =
      "arn:aws:kinesis:" +
      std::string(stream.region.empty() ? std::string_view(options_.account.region)
                                        : stream.region) +
      ":" + options_.account.account_id + ":stream/" + std::string(stream.name);
  const lambda::RequestContext context{delivery_stream_arn_, source_stream_arn,
                                       options_.account.region, batch.shard().get()};
  const size_t envelope = lambda::RequestEnvelopeBytes(context);
  Invocation invocation;
  std::string entry;
  for (PipelineRecord& record : batch.records()) {
    if (!record.ok()) continue;
    // Sequence numbers are unique within the batch's shard, and stable across retries.
    std::string id = batch.SequenceNumberOf(record).get();
    entry.clear();
    lambda::AppendRecordEntry(
        context, {id, record.arrival_ms, batch.Bytes(record), record.partition_key, id}, entry);
    if (envelope + entry.size() > lambda::kMaxPayloadBytes) {
      RecordBatch::Fail(record, std::string(lambda::kRequestTooLarge),
                        "the record's request would be " + std::to_string(envelope + entry.size()) +
                            " bytes, over the " + std::to_string(lambda::kMaxPayloadBytes) +
                            "-byte Lambda payload limit");
      continue;
    }
    if (!invocation.records.empty()) {
      const size_t grown = envelope + invocation.records_json.size() + 1 + entry.size();
      if (invocation.records.size() >= options_.max_batch_records ||
          grown > options_.max_batch_bytes) {
        Invoke(batch, context, invocation);
        invocation.Clear();
      }
    }
    if (!invocation.records.empty()) invocation.records_json.push_back(',');
    invocation.records_json += entry;
    invocation.records.push_back(&record);
    invocation.ids.push_back(std::move(id));
  }
  if (!invocation.records.empty()) Invoke(batch, context, invocation);
}

void LambdaProcessor::Invoke(RecordBatch& batch, const lambda::RequestContext& context,
                             Invocation& invocation) {
  const int attempts = options_.retries + 1;
  std::string code;
  std::string message;
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    if (attempt > 1) {
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
    const std::string request =
        lambda::EncodeRequest(context, lambda::NewInvocationId(), invocation.records_json);
    std::optional<lambda::ParsedResponse> parsed;
    const lambda::AcceptResponse accept = [&](std::string_view body) {
      Result<lambda::ParsedResponse> r = lambda::ParseResponse(body, invocation.ids);
      if (!r.ok()) return r.status();
      parsed = std::move(r.value());
      return Status::Ok();
    };
    lambda::InvokeOutcome outcome = invoker_->Invoke(request, options_.timeout, accept);
    if (outcome.ok) {
      Apply(batch, invocation, *parsed, attempt);
      return;
    }
    code = std::move(outcome.error_code);
    message = std::move(outcome.error_message);
    lambda::Log().debug("lambda: attempt {}/{} for {} records of {} failed: {}: {}", attempt,
                        attempts, invocation.records.size(), batch.shard().get(), code, message);
  }
  lambda::Log().warn("lambda: {} records of {}/{} are ProcessingFailed after {} attempts: {}: {}",
                     invocation.records.size(), batch.stream().get(), batch.shard().get(), attempts,
                     code, message);
  for (PipelineRecord* record : invocation.records) {
    RecordBatch::Fail(*record, code, message);
    record->attempts = attempts;
  }
}

void LambdaProcessor::Apply(RecordBatch& batch, Invocation& invocation,
                            lambda::ParsedResponse& parsed, int attempt) {
  using Kind = lambda::RecordOutcome::Kind;
  size_t dropped = 0;
  size_t failed = 0;
  for (size_t i = 0; i < invocation.records.size(); ++i) {
    PipelineRecord& record = *invocation.records[i];
    lambda::RecordOutcome& outcome = parsed.outcomes[i];
    record.attempts = attempt;
    switch (outcome.kind) {
      case Kind::kOk:
        batch.SetBytes(record, outcome.data.size() >= kMoveDataBytes
                                   ? batch.Keep(std::move(outcome.data))
                                   : batch.Keep(std::string_view(outcome.data)));
        break;
      case Kind::kDropped:
        record.result = RecordResult::kDropped;
        ++dropped;
        break;
      case Kind::kFailed:
        RecordBatch::Fail(record, std::move(outcome.error_code), std::move(outcome.error_message));
        ++failed;
        break;
    }
  }
  if (parsed.unknown_ids > 0) {
    lambda::Log().warn("lambda: the response for {} named {} record ids it was not sent; ignored",
                       batch.shard().get(), parsed.unknown_ids);
  }
  lambda::Log().debug("lambda: {} records of {}: {} dropped, {} failed, attempt {}",
                      invocation.records.size(), batch.shard().get(), dropped, failed, attempt);
}

Status Validate(const LambdaOptions& o) {
  if (o.url.empty() == o.command.empty()) {
    return Status::InvalidArgument("lambda: set exactly one of url and command");
  }
  if (!o.url.empty() && !o.url.starts_with("http://") && !o.url.starts_with("https://")) {
    return Status::InvalidArgument("lambda: url must start with http:// or https://, got " + o.url);
  }
  if (!o.command.empty() && !lambda::IsExecutable(o.command[0])) {
    return Status::InvalidArgument("lambda: command: no executable " + o.command[0] +
                                   " (a path, or a name in PATH)");
  }
  if (o.max_batch_bytes < kMinBatchBytes || o.max_batch_bytes > lambda::kMaxPayloadBytes) {
    return Status::InvalidArgument(
        "lambda: max_batch_bytes must be " + std::to_string(kMinBatchBytes) + ".." +
        std::to_string(lambda::kMaxPayloadBytes) + ", got " + std::to_string(o.max_batch_bytes));
  }
  if (o.max_batch_records < 1) {
    return Status::InvalidArgument("lambda: max_batch_records must be at least 1");
  }
  if (o.retries < 0 || o.retries > kMaxRetries) {
    return Status::InvalidArgument("lambda: retries must be 0.." + std::to_string(kMaxRetries) +
                                   ", got " + std::to_string(o.retries));
  }
  for (const std::string& name : o.inherit_environment) {
    if (name == "TIDELINE_OPENSEARCH_PASSWORD") {
      return Status::InvalidArgument(
          "lambda: inherit_environment: TIDELINE_OPENSEARCH_PASSWORD is never passed to a "
          "transformer");
    }
    if (name.empty() || name.find('=') != std::string::npos) {
      return Status::InvalidArgument("lambda: inherit_environment: '" + name +
                                     "' is not a variable name");
    }
  }
  for (const auto& [name, value] : o.environment) {
    if (name.empty() || name.find('=') != std::string::npos) {
      return Status::InvalidArgument("lambda: environment: '" + name + "' is not a variable name");
    }
  }
  if (o.timeout.count() <= 0) {
    return Status::InvalidArgument("lambda: timeout must be positive, got " +
                                   std::to_string(o.timeout.count()) + " ms");
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Processor>> MakeLambdaProcessor(const LambdaOptions& options) {
  if (Status s = Validate(options); !s.ok()) return s;
  std::unique_ptr<lambda::Invoker> invoker;
  if (!options.url.empty()) {
    invoker = std::make_unique<lambda::HttpInvoker>(options.url);
  } else {
    invoker = std::make_unique<lambda::ProcessInvoker>(
        options.command,
        lambda::ChildEnvironment(options.environment, options.inherit_environment));
  }
  return std::unique_ptr<Processor>(std::make_unique<LambdaProcessor>(options, std::move(invoker)));
}

}  // namespace tideline::pipeline
