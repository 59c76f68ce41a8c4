// `tideline put`: lines from files or stdin into PutRecords batches, with per-record retries.
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "cli/kinesis_client.h"
#include "cli/put_batcher.h"
#include "cli_util.h"

namespace tideline::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Attempts for records a PutRecords response reports as failed (throttled or internal).
constexpr int kRecordAttempts = 10;

struct PutStats {
  uint64_t records = 0;      // acknowledged
  uint64_t bytes = 0;        // data bytes acknowledged
  uint64_t retried = 0;      // record re-sends after per-record failures
  uint64_t empty_lines = 0;  // skipped: a record needs data
  uint64_t oversized = 0;    // skipped: larger than a record may be
};

class Producer {
 public:
  Producer(const PutArgs& args, bool progress)
      : args_(args),
        client_(args.endpoint, ResolveClientAuth(args.region, args.ca_bundle)),
        progress_(progress),
        start_(Clock::now()) {}

  // Sends every line of `in`; stops at the first batch that cannot be delivered.
  Status Ingest(std::istream& in, const std::string& name) {
    std::string line;
    uint64_t line_number = 0;
    while (std::getline(in, line)) {
      ++line_number;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) {
        ++stats_.empty_lines;
        continue;
      }
      PendingRecord record{std::move(line), args_.partition_key.value_or("")};
      if (record.partition_key.empty()) record.partition_key = PartitionKeyForLine(record.data);
      if (record.size() > kMaxRecordBytes) {
        Logger()->warn("{}:{}: line of {} bytes is larger than a record may be (1 MiB); skipped",
                       name, line_number, record.data.size());
        ++stats_.oversized;
        continue;
      }
      if (!batcher_.Fits(record)) TL_RETURN_IF_ERROR(Flush());
      batcher_.Add(std::move(record));
    }
    if (in.bad()) return Status::IOError(name + ": read error");
    return Status::Ok();
  }

  Status Flush() {
    if (batcher_.empty()) return Status::Ok();
    return Send(batcher_.Take());
  }

  void PrintSummary() const {
    if (progress_) std::fprintf(stderr, "\r\033[K");
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    std::printf("put %llu records (%s) to %s in %.2f s (%.0f records/s)",
                static_cast<unsigned long long>(stats_.records), FormatBytes(stats_.bytes).c_str(),
                args_.stream.c_str(), secs, secs > 0 ? stats_.records / secs : 0.0);
    if (stats_.retried > 0) std::printf(", %llu retried", (unsigned long long)stats_.retried);
    if (stats_.empty_lines > 0) {
      std::printf(", %llu empty lines skipped", (unsigned long long)stats_.empty_lines);
    }
    if (stats_.oversized > 0) {
      std::printf(", %llu oversized lines skipped", (unsigned long long)stats_.oversized);
    }
    std::printf("\n");
    std::fflush(stdout);
  }

  const PutStats& stats() const { return stats_; }

 private:
  // Sends one batch, re-sending the records the response marks as failed with backoff.
  Status Send(std::vector<PendingRecord> pending) {
    std::chrono::milliseconds backoff{100};
    std::string last_error;
    for (int attempt = 1; attempt <= kRecordAttempts; ++attempt) {
      auto r = client_.CallWithRetry("PutRecords", BuildPutRecordsRequest(args_.stream, pending));
      if (!r.ok()) return r.status();
      const auto& results = (*r)["Records"];
      if (!results.IsArray() || results.Size() != pending.size()) {
        return Status::Internal("PutRecords: the response does not have one result per record");
      }
      std::vector<PendingRecord> failed;
      for (rapidjson::SizeType i = 0; i < results.Size(); ++i) {
        const std::string code = GetString(results[i], "ErrorCode");
        if (code.empty()) {
          ++stats_.records;
          stats_.bytes += pending[i].data.size();
          continue;
        }
        last_error = code + ": " + GetString(results[i], "ErrorMessage");
        failed.push_back(std::move(pending[i]));
      }
      ShowProgress();
      if (failed.empty()) return Status::Ok();
      stats_.retried += failed.size();
      pending = std::move(failed);
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
    return Status::Unavailable(std::to_string(pending.size()) + " records still failed after " +
                               std::to_string(kRecordAttempts) + " attempts; last error " +
                               last_error);
  }

  void ShowProgress() {
    if (!progress_) return;
    const auto now = Clock::now();
    if (now - last_progress_ < std::chrono::milliseconds(200)) return;
    last_progress_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "\r\033[Kput: %llu records, %s, %.1f s",
                 static_cast<unsigned long long>(stats_.records), FormatBytes(stats_.bytes).c_str(),
                 secs);
    std::fflush(stderr);
  }

  const PutArgs& args_;
  KinesisClient client_;
  PutBatcher batcher_;
  PutStats stats_;
  bool progress_;
  Clock::time_point start_;
  Clock::time_point last_progress_{};
};

}  // namespace

int RunPut(const PutArgs& args) {
  if (args.partition_key &&
      (args.partition_key->empty() || args.partition_key->size() > kMaxPartitionKeyChars)) {
    return Fail(Status::InvalidArgument("--partition-key: must be 1..256 characters"), kExitUsage);
  }
  // Open every file first, so that a typo ingests nothing rather than part of the input.
  std::vector<std::pair<std::string, std::unique_ptr<std::ifstream>>> inputs;
  for (const auto& f : args.files) {
    if (f == "-") {
      inputs.emplace_back("-", nullptr);
      continue;
    }
    auto in = std::make_unique<std::ifstream>(f, std::ios::binary);
    if (!*in) return Fail(Status::InvalidArgument(f + ": cannot open"), kExitUsage);
    inputs.emplace_back(f, std::move(in));
  }
  if (inputs.empty()) inputs.emplace_back("-", nullptr);

  std::ios::sync_with_stdio(false);
  Producer producer(args, args.progress.value_or(isatty(STDERR_FILENO) == 1));
  Status st;
  for (auto& [name, in] : inputs) {
    st = producer.Ingest(in ? *in : std::cin, name == "-" ? "stdin" : name);
    if (!st.ok()) break;
  }
  if (st.ok()) st = producer.Flush();
  producer.PrintSummary();
  if (!st.ok()) return Fail(st, kExitFailure);
  return producer.stats().oversized > 0 ? kExitFailure : 0;
}

}  // namespace tideline::cli
