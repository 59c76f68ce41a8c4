// DescribeAccountSettings, UpdateAccountSettings, UpdateMaxRecordSize and
// UpdateStreamWarmThroughput. The account's minimum throughput billing commitment and a stream's
// warm throughput are kept and reported as Kinesis reports them; nothing is billed or
// provisioned here. The maximum record size is enforced by PutRecord(s) (handlers_put.cc).
#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"
#include "handlers_settings.h"

namespace tideline::server {
namespace {

using storage::AccountSettings;
using storage::StreamAttributes;

// Kinesis: "Commitments have a minimum duration of 24 hours that must be honored before they
// can be disabled."
constexpr int64_t kMinCommitmentMs = 24 * 3600 * 1000;

// A disable asked for before the earliest allowed end takes effect at that end.
void SettlePendingDisable(AccountSettings& a, int64_t now_ms) {
  if (a.commitment_enabled && a.commitment_disable_pending &&
      now_ms >= a.commitment_earliest_end_ms) {
    a.commitment_enabled = false;
    a.commitment_disable_pending = false;
    a.commitment_ended_ms = a.commitment_earliest_end_ms;
  }
}

void WriteCommitment(JsonWriter& w, const AccountSettings& a) {
  w.Key("MinimumThroughputBillingCommitment");
  w.StartObject();
  w.Key("Status");
  if (!a.commitment_enabled) {
    w.String("DISABLED");
  } else {
    w.String(a.commitment_disable_pending ? "ENABLED_UNTIL_EARLIEST_ALLOWED_END" : "ENABLED");
  }
  if (a.commitment_started_ms > 0) {
    w.Key("StartedAt");
    w.EpochSeconds(a.commitment_started_ms);
  }
  if (a.commitment_enabled) {
    w.Key("EarliestAllowedEndAt");
    w.EpochSeconds(a.commitment_earliest_end_ms);
  } else if (a.commitment_ended_ms > 0) {
    w.Key("EndedAt");
    w.EpochSeconds(a.commitment_ended_ms);
  }
  w.EndObject();
}

ApiResponse CommitmentResponse(const AccountSettings& a) {
  JsonWriter w;
  w.StartObject();
  WriteCommitment(w, a);
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

}  // namespace

bool CommitmentEnabled(const HandlerContext& ctx) {
  AccountSettings a = ctx.store->GetAccountSettings();
  SettlePendingDisable(a, ctx.now_ms());
  return a.commitment_enabled;
}

std::optional<ApiResponse> CheckWarmThroughput(storage::StreamMode mode, int64_t mibps,
                                               bool commitment_enabled) {
  if (mode != storage::StreamMode::kOnDemand) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "Warm throughput is only supported for streams in ON_DEMAND capacity mode.");
  }
  if (mibps > kMaxWarmThroughputMiBps) {
    return MakeError(ApiErrorType::kLimitExceeded,
                     fmt::format("Requested warm throughput of {} MiBps exceeds the maximum of {} "
                                 "MiBps for an on-demand stream.",
                                 mibps, kMaxWarmThroughputMiBps));
  }
  if (!commitment_enabled) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "Warm throughput requires the account's MinimumThroughputBillingCommitment "
                     "to be enabled.");
  }
  return std::nullopt;
}

void WriteWarmThroughput(JsonWriter& w, const StreamAttributes& attributes) {
  if (attributes.mode != storage::StreamMode::kOnDemand || !attributes.warm_throughput_mibps) {
    return;
  }
  // Nothing needs warming up here: the stream is at its target as soon as it is set.
  w.Key("WarmThroughput");
  w.StartObject();
  w.Key("TargetMiBps");
  w.Uint64(*attributes.warm_throughput_mibps);
  w.Key("CurrentMiBps");
  w.Uint64(*attributes.warm_throughput_mibps);
  w.EndObject();
}

void NoteMaxRecordSize(const HandlerContext& ctx, uint32_t old_kib, uint32_t new_kib) {
  if (ctx.record_ceiling == nullptr || old_kib == new_kib) return;
  if (new_kib > old_kib) {
    ctx.record_ceiling->Raise(new_kib);
  } else if (old_kib >= ctx.record_ceiling->kib()) {
    ctx.record_ceiling->Recompute(*ctx.store);  // this stream may have been the largest
  }
}

ApiResponse HandleDescribeAccountSettings(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("DescribeAccountSettings", doc, body, err)) return err;
  AccountSettings a = ctx.store->GetAccountSettings();
  SettlePendingDisable(a, ctx.now_ms());
  return CommitmentResponse(a);
}

ApiResponse HandleUpdateAccountSettings(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("UpdateAccountSettings", doc, body, err)) return err;
  const FieldReader r;
  const rapidjson::Value* commitment = r.Object(doc, "MinimumThroughputBillingCommitment");
  const auto status = commitment ? r.String(*commitment, "Status") : std::nullopt;
  if (!status) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  const bool enable = *status == "ENABLED";
  const int64_t now = ctx.now_ms();
  AccountSettings updated;
  const Status st = ctx.store->UpdateAccountSettings([&](AccountSettings& a) {
    SettlePendingDisable(a, now);
    if (enable) {
      if (!a.commitment_enabled) {
        a.commitment_enabled = true;
        a.commitment_started_ms = now;
        a.commitment_earliest_end_ms = now + kMinCommitmentMs;
      }
      a.commitment_disable_pending = false;  // enabling again cancels a pending disable
    } else if (a.commitment_enabled) {
      if (now >= a.commitment_earliest_end_ms) {
        a.commitment_enabled = false;
        a.commitment_ended_ms = now;
      } else {
        a.commitment_disable_pending = true;
      }
    }
    updated = a;
    return Status::Ok();
  });
  if (!st.ok()) return MakeErrorFromStatus(st);
  return CommitmentResponse(updated);
}

ApiResponse HandleUpdateMaxRecordSize(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("UpdateMaxRecordSize", doc, body, err)) return err;
  const FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/false);
  if (ref.error) return *ref.error;
  if (!ref.name) v.NotNull(false, "streamARN");
  if (auto bad = CheckRequest(v)) return *bad;
  const auto kib = r.Integer(doc, "MaxRecordSizeInKiB");
  if (!kib) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  uint32_t old_kib = 0;
  const Status st = ctx.store->UpdateStreamAttributes(*ref.name, [&](StreamAttributes& a) {
    old_kib = a.max_record_size_kib;
    a.max_record_size_kib = static_cast<uint32_t>(*kib);  // the model held it to 1024..10240
    return Status::Ok();
  });
  if (!st.ok()) return StreamError(ctx, st, ref.name->get());
  NoteMaxRecordSize(ctx, old_kib, static_cast<uint32_t>(*kib));
  return ApiResponse{};
}

ApiResponse HandleUpdateStreamWarmThroughput(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("UpdateStreamWarmThroughput", doc, body, err)) return err;
  const FieldReader r;
  Validator v;
  const StreamRef ref = ReadStreamRef(ctx, r, v, doc, /*required=*/true);
  if (auto bad = CheckRequest(v)) return *bad;
  if (ref.error) return *ref.error;
  const auto mibps = r.Integer(doc, "WarmThroughputMiBps");
  if (!mibps) return MakeError(ApiErrorType::kInternalFailure, "Internal service failure.");
  const std::string& name = ref.name->get();
  const bool commitment = CommitmentEnabled(ctx);
  std::optional<ApiResponse> refused;
  StreamAttributes updated;
  const Status st = ctx.store->UpdateStreamAttributes(*ref.name, [&](StreamAttributes& a) {
    refused = CheckWarmThroughput(a.mode, *mibps, commitment);
    if (refused) return Status::InvalidArgument("refused");  // answered with `refused`
    a.warm_throughput_mibps = static_cast<uint32_t>(*mibps);
    updated = a;
    return Status::Ok();
  });
  if (refused) return *refused;
  if (!st.ok()) return StreamError(ctx, st, name);
  JsonWriter w;
  w.StartObject();
  w.Key("StreamARN");
  w.String(StreamArn(ctx, name));
  w.Key("StreamName");
  w.String(DisplayName(name));
  WriteWarmThroughput(w, updated);
  w.EndObject();
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

}  // namespace tideline::server
