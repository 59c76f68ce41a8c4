// Pieces of handlers_settings.cc that CreateStream, DescribeStreamSummary and UpdateStreamMode
// share: warm throughput rules and output, and the record size ceiling's upkeep.
#pragma once

#include <cstdint>
#include <optional>

#include "api_types.h"
#include "handlers.h"
#include "json_util.h"

namespace tideline::server {

// Kinesis: "By default, you cannot scale to more than 10 GiBps for an on-demand stream."
inline constexpr int64_t kMaxWarmThroughputMiBps = 10 * 1024;

// Whether the account's MinimumThroughputBillingCommitment is on now (a pending disable
// counts until it takes effect).
bool CommitmentEnabled(const HandlerContext& ctx);

// The error for setting `mibps` of warm throughput on a stream in `mode`: Kinesis supports it
// for ON_DEMAND streams of accounts with the commitment enabled, up to 10 GiBps.
std::optional<ApiResponse> CheckWarmThroughput(storage::StreamMode mode, int64_t mibps,
                                               bool commitment_enabled);

// The WarmThroughput member of DescribeStreamSummary and UpdateStreamWarmThroughput: only for
// ON_DEMAND streams that have one set.
void WriteWarmThroughput(JsonWriter& w, const storage::StreamAttributes& attributes);

// After a stream's MaxRecordSizeInKiB went from `old_kib` to `new_kib` (or a stream was created
// with `new_kib`, old_kib = the default): keeps ctx.record_ceiling current.
void NoteMaxRecordSize(const HandlerContext& ctx, uint32_t old_kib, uint32_t new_kib);

}  // namespace tideline::server
