#include "api.h"

#include <array>
#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "errors.h"
#include "handlers_common.h"
#include "json_util.h"
#include "kinesis_model.h"
#include "model_validator.h"

namespace tideline::server {
namespace {

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";

using SyncHandler = ApiResponse (*)(const HandlerContext&, std::string_view);
using AsyncHandler = void (*)(const HandlerContext&, std::shared_ptr<std::string>, ResponseCallback,
                              const RespondOn&);

// Every request is checked against the service model (model_validator.h) before its handler
// runs: a sync handler receives only bodies that parse and conform. An async handler (the
// appends, whose bodies are large) parses its body in place once and calls ValidateRequest on
// that parse itself.
struct Operation {
  std::string_view name;
  SyncHandler sync = nullptr;    // runs on the blocking executor
  AsyncHandler async = nullptr;  // appends: completes on the writer thread
};

constexpr std::array kOperations = {
    Operation{"CreateStream", &HandleCreateStream},
    Operation{"DeleteStream", &HandleDeleteStream},
    Operation{"ListStreams", &HandleListStreams},
    Operation{"DescribeStream", &HandleDescribeStream},
    Operation{"DescribeStreamSummary", &HandleDescribeStreamSummary},
    Operation{"ListShards", &HandleListShards},
    Operation{"SplitShard", &HandleSplitShard},
    Operation{"MergeShards", &HandleMergeShards},
    Operation{"UpdateShardCount", &HandleUpdateShardCount},
    Operation{"IncreaseStreamRetentionPeriod", &HandleIncreaseStreamRetentionPeriod},
    Operation{"DecreaseStreamRetentionPeriod", &HandleDecreaseStreamRetentionPeriod},
    Operation{"GetShardIterator", &HandleGetShardIterator},
    Operation{"GetRecords", &HandleGetRecords},
    Operation{"AddTagsToStream", &HandleAddTagsToStream},
    Operation{"RemoveTagsFromStream", &HandleRemoveTagsFromStream},
    Operation{"ListTagsForStream", &HandleListTagsForStream},
    Operation{"TagResource", &HandleTagResource},
    Operation{"UntagResource", &HandleUntagResource},
    Operation{"ListTagsForResource", &HandleListTagsForResource},
    Operation{"DescribeLimits", &HandleDescribeLimits},
    Operation{"UpdateStreamMode", &HandleUpdateStreamMode},
    Operation{"StartStreamEncryption", &HandleStartStreamEncryption},
    Operation{"StopStreamEncryption", &HandleStopStreamEncryption},
    Operation{"EnableEnhancedMonitoring", &HandleEnableEnhancedMonitoring},
    Operation{"DisableEnhancedMonitoring", &HandleDisableEnhancedMonitoring},
    Operation{"PutResourcePolicy", &HandlePutResourcePolicy},
    Operation{"GetResourcePolicy", &HandleGetResourcePolicy},
    Operation{"DeleteResourcePolicy", &HandleDeleteResourcePolicy},
    Operation{"RegisterStreamConsumer", &HandleRegisterStreamConsumer},
    Operation{"DeregisterStreamConsumer", &HandleDeregisterStreamConsumer},
    Operation{"DescribeStreamConsumer", &HandleDescribeStreamConsumer},
    Operation{"ListStreamConsumers", &HandleListStreamConsumers},
    Operation{"DescribeAccountSettings", &HandleDescribeAccountSettings},
    Operation{"UpdateAccountSettings", &HandleUpdateAccountSettings},
    Operation{"UpdateMaxRecordSize", &HandleUpdateMaxRecordSize},
    Operation{"UpdateStreamWarmThroughput", &HandleUpdateStreamWarmThroughput},
    Operation{"SubscribeToShard", &HandleSubscribeToShard},
    Operation{"PutRecord", nullptr, &HandlePutRecord},
    Operation{"PutRecords", nullptr, &HandlePutRecords},
};

std::string_view OperationName(std::string_view target) {
  if (target.substr(0, kTargetPrefix.size()) != kTargetPrefix) return {};
  return target.substr(kTargetPrefix.size());
}

const Operation* FindOperation(std::string_view target) {
  const std::string_view name = OperationName(target);
  for (const Operation& op : kOperations) {
    if (op.name == name) return &op;
  }
  return nullptr;
}

// The SerializationException or ValidationException for `body` against `op`'s input shape,
// or nullopt when it conforms. With `ctx`, a conforming request's StreamId must also be the
// stream's (CheckStreamId).
std::optional<ApiResponse> CheckAgainstModel(const model::Operation& op, std::string_view body,
                                             const HandlerContext* ctx = nullptr) {
  rapidjson::Document doc;
  if (auto err = ParseJsonObject(doc, body)) return MakeError(ApiErrorType::kSerialization, *err);
  if (auto bad = ValidateRequest(op, doc)) return bad;
  if (ctx != nullptr) return CheckStreamId(*ctx, doc);
  return std::nullopt;
}

// The context of a request in `region` and protocol: the shared one for a JSON request of the
// default region (empty), else a copy in `own` that names the region and the protocol.
const HandlerContext& ContextFor(const HandlerContext& base, std::string_view region, bool cbor,
                                 std::optional<HandlerContext>& own) {
  if (region.empty() && !cbor) return base;
  own.emplace(base);
  own->region = std::string(region);
  own->cbor = cbor;
  return *own;
}

}  // namespace

OperationKind KindOfTarget(std::string_view target) {
  const Operation* op = FindOperation(target);
  if (op == nullptr) return OperationKind::kOther;
  if (op->name == "PutRecord" || op->name == "PutRecords") return OperationKind::kPut;
  if (op->name == "GetRecords") return OperationKind::kRead;
  return OperationKind::kOther;
}

Api::Api(HandlerContext ctx, Metrics& metrics, BlockingExecutor blocking)
    : ctx_(std::move(ctx)), metrics_(metrics), blocking_(std::move(blocking)) {}

void Api::Handle(std::string_view target, std::shared_ptr<std::string> body, ResponseCallback done,
                 const RespondOn& respond_on, std::string_view region, bool cbor) {
  // The default region's requests use the shared context as is; another region's get a copy
  // that names it (a copy of a few short strings).
  if (region == ctx_.account.region) region = {};
  const auto start = std::chrono::steady_clock::now();
  const Operation* op = FindOperation(target);
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++in_flight_;
  }
  const std::string_view op_name = op ? op->name : std::string_view("unknown");
  // Records metrics, hands the response on, then marks the request finished.
  auto finish = [this, op_name, start, done = std::move(done)](ApiResponse resp) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    metrics_.RecordRequest(op_name, resp.error_type, secs);
    if (resp.error_type.empty() && (op_name == "PutRecord" || op_name == "PutRecords")) {
      metrics_.AddRecordsPut(resp.records, resp.bytes);
    } else if (resp.error_type.empty() && op_name == "GetRecords") {
      metrics_.AddRecordsRead(resp.records, resp.bytes);
    }
    done(std::move(resp));
    Finish();
  };
  const model::Operation* modeled = model::FindOperation(OperationName(target));
  if (!op) {
    // An operation of the model without a handler (a model newer than the handlers) still
    // answers a malformed request as AWS would; only a conforming one learns it is unknown.
    if (modeled != nullptr) {
      if (auto bad = CheckAgainstModel(*modeled, *body)) {
        finish(std::move(*bad));
        return;
      }
      finish(MakeError(ApiErrorType::kUnknownOperation,
                       fmt::format("Unknown operation: {}", modeled->name)));
      return;
    }
    finish(MakeError(ApiErrorType::kUnknownOperation,
                     fmt::format("Unknown operation: {}", target.substr(0, 128))));
    return;
  }
  if (op->async) {
    std::optional<HandlerContext> own;  // read by the handler during the call only
    op->async(ContextFor(ctx_, region, cbor, own), std::move(body), std::move(finish), respond_on);
    return;
  }
  blocking_([this, op, modeled, body = std::move(body), finish = std::move(finish), respond_on,
             region = std::string(region), cbor]() mutable {
    std::optional<HandlerContext> own;
    const HandlerContext& ctx = ContextFor(ctx_, region, cbor, own);
    std::optional<ApiResponse> bad;
    if (modeled != nullptr) bad = CheckAgainstModel(*modeled, *body, &ctx);
    ApiResponse resp = bad ? std::move(*bad) : op->sync(ctx, *body);
    if (!respond_on) {
      finish(std::move(resp));
      return;
    }
    respond_on([finish = std::move(finish), resp = std::move(resp)]() mutable {
      finish(std::move(resp));
    });
  });
}

void Api::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (--in_flight_ == 0) idle_cv_.notify_all();
}

bool Api::WaitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return in_flight_ == 0; });
}

}  // namespace tideline::server
