#include "producer.h"

#include <random>
#include <thread>

#include <fmt/format.h>

#include "common/base64.h"
#include "http_connection.h"
#include "json_scan.h"
#include "kinesis_admin.h"
#include "record_ids.h"

namespace tideline::fanout {

// Errors printed per connection; later ones are only counted.
constexpr int kErrorsShown = 3;

BatchTemplate BuildBatchTemplate(const FanoutOptions& options, uint64_t seed) {
  std::mt19937_64 random(seed);
  BatchTemplate out;
  out.body = "{\"StreamName\":";
  loadgen::AppendJsonString(out.body, options.stream);
  out.body += ",\"Records\":[";
  std::string data(options.record_size, '0');
  for (int i = 0; i < options.batch; ++i) {
    for (size_t j = kIdBytes; j < data.size(); ++j)
      data[j] = static_cast<char>('a' + random() % 26);
    out.body += i == 0 ? "{\"Data\":\"" : ",{\"Data\":\"";
    out.id_offsets.push_back(out.body.size());
    Base64Append(data, out.body);
    out.body += "\",\"PartitionKey\":\"" + std::to_string(random()) + "\"}";
  }
  out.body += "]}";
  return out;
}

void PatchIds(BatchTemplate& batch, uint64_t first_id) {
  for (size_t i = 0; i < batch.id_offsets.size(); ++i)
    WriteRecordIdBase64(first_id + i, batch.body.data() + batch.id_offsets[i]);
}

void RunProducerConnection(const FanoutOptions& options, int connection,
                           loadgen::HttpConnection& http, Clock::time_point log_base,
                           Clock::time_point first_send, Clock::time_point deadline,
                           const std::atomic<bool>& stop, RecordLog& log,
                           ProducerCounters& counters) {
  BatchTemplate batch =
      BuildBatchTemplate(options, options.seed + static_cast<uint64_t>(connection));
  const uint64_t records = batch.id_offsets.size();
  loadgen::LiveCounters& live = counters.live;
  loadgen::HttpResponse response;
  std::string error;
  int shown = 0;
  // This connection's share of the rate, its sends staggered against the other connections'.
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
      static_cast<double>(records) * options.producer_connections / options.rate));
  auto scheduled = first_send + interval * connection / options.producer_connections;
  while (!stop.load(std::memory_order_relaxed) && scheduled < deadline) {
    // Pacing the offered load is the point of this run, not a synchronisation.
    std::this_thread::sleep_until(scheduled);
    const uint64_t first = counters.next_id.fetch_add(records);
    if (first + records > log.capacity()) break;
    PatchIds(batch, first);
    const std::string head = loadgen::KinesisHead(options.endpoint, "PutRecords", batch.body);
    const auto sent = Clock::now();
    if (sent - scheduled > interval) counters.late_sends.fetch_add(1, std::memory_order_relaxed);
    scheduled += interval;
    for (uint64_t id = first; id < first + records; ++id)
      log.sent[id] = LogTime(log_base, sent);
    const bool ok = http.RoundTrip(head, batch.body, response, error);
    const auto acked = Clock::now();
    const auto failed = ok && response.status == 200
                            ? loadgen::ScanUnsigned(response.body, "FailedRecordCount")
                            : std::nullopt;
    if (!failed || *failed != 0) {
      // A partly failed batch is left out whole: which of its records were stored is not
      // worth finding out in a benchmark that should see no failures at all.
      live.failed_records.fetch_add(records, std::memory_order_relaxed);
      if (!failed) live.errors.fetch_add(1, std::memory_order_relaxed);
      if (shown++ < kErrorsShown) {
        fmt::print(stderr, "producer {}: {}\n", connection,
                   !ok                      ? error
                   : response.status != 200 ? loadgen::DescribeError(response)
                   : failed                 ? fmt::format("{} records failed", *failed)
                                            : "unexpected answer: " + response.body.substr(0, 200));
      }
      if (!ok) std::this_thread::sleep_for(std::chrono::milliseconds(100));  // no reconnect spin
      continue;
    }
    for (uint64_t id = first; id < first + records; ++id)
      log.acked[id] = LogTime(log_base, acked);
    live.requests.fetch_add(1, std::memory_order_relaxed);
    live.records.fetch_add(records, std::memory_order_relaxed);
    live.payload_bytes.fetch_add(records * options.record_size, std::memory_order_relaxed);
    live.latency_us.Record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(acked - sent).count()));
  }
}

}  // namespace tideline::fanout
