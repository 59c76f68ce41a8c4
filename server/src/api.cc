#include "api.h"

#include <array>
#include <chrono>

#include <fmt/format.h>

#include "errors.h"

namespace tideline::server {
namespace {

constexpr std::string_view kTargetPrefix = "Kinesis_20131202.";

using SyncHandler = ApiResponse (*)(const HandlerContext&, std::string_view);
using AsyncHandler = void (*)(const HandlerContext&, std::shared_ptr<std::string>, ResponseCallback,
                              const RespondOn&);

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
    Operation{"PutRecord", nullptr, &HandlePutRecord},
    Operation{"PutRecords", nullptr, &HandlePutRecords},
};

const Operation* FindOperation(std::string_view target) {
  if (target.substr(0, kTargetPrefix.size()) != kTargetPrefix) return nullptr;
  const std::string_view name = target.substr(kTargetPrefix.size());
  for (const Operation& op : kOperations) {
    if (op.name == name) return &op;
  }
  return nullptr;
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
                 const RespondOn& respond_on) {
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
  if (!op) {
    finish(MakeError(ApiErrorType::kUnknownOperation,
                     fmt::format("Unknown operation: {}", target.substr(0, 128))));
    return;
  }
  if (op->async) {
    op->async(ctx_, std::move(body), std::move(finish), respond_on);
    return;
  }
  blocking_([this, op, body = std::move(body), finish = std::move(finish), respond_on]() mutable {
    ApiResponse resp = op->sync(ctx_, *body);
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
