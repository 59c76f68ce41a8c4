#include "request_pool.h"

#include <algorithm>
#include <random>

#include "json_scan.h"

namespace tideline::loadgen {
namespace {

constexpr uint64_t kPoolBudgetBytes = 128u << 20;
constexpr size_t kPartitionKeyLength = 16;

struct RandomRecord {
  std::string data_json;  // base64 data as a JSON string literal
  std::string key_json;   // partition key as a JSON string literal
};

std::vector<RandomRecord> MakeRecords(size_t count, size_t record_size, bool json, uint64_t seed) {
  static constexpr char kKeyChars[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::mt19937_64 rng(seed);
  std::vector<RandomRecord> records(count);
  std::string bytes(record_size, '\0');
  for (auto& record : records) {
    for (size_t i = 0; i < record_size; i += 8) {
      uint64_t word = rng();
      for (size_t j = i; j < std::min(i + 8, record_size); ++j) {
        bytes[j] = static_cast<char>(word >> (8 * (j - i)));
      }
    }
    if (json) {
      // {"r":"<hex>"}: record_size bytes when record_size >= 8.
      static constexpr char kHex[] = "0123456789abcdef";
      std::string doc = "{\"r\":\"";
      for (size_t i = 0; doc.size() + 2 < record_size; ++i)
        doc.push_back(kHex[static_cast<unsigned char>(bytes[i % record_size]) & 15]);
      doc += "\"}";
      record.data_json = '"' + Base64Encode(doc) + '"';
    } else {
      record.data_json = '"' + Base64Encode(bytes) + '"';
    }
    std::string key(kPartitionKeyLength, 'a');
    for (char& c : key)
      c = kKeyChars[rng() % (sizeof(kKeyChars) - 1)];
    record.key_json = '"' + key + '"';
  }
  return records;
}

// Approximate size of one record inside a request body.
uint64_t EncodedRecordBytes(size_t record_size) {
  return (record_size + 2) / 3 * 4 + kPartitionKeyLength + 40;
}

}  // namespace

std::vector<PreparedRequest> BuildPutRecordsPool(const LoadgenOptions& options) {
  auto batch = static_cast<size_t>(options.batch);
  uint64_t request_bytes = batch * EncodedRecordBytes(options.record_size);
  size_t count = std::clamp<size_t>(kPoolBudgetBytes / request_bytes, 1,
                                    static_cast<size_t>(options.pool_requests));
  // Twice a request's worth of records at least, so slices differ; capped by the budget.
  size_t pool_size = std::max(
      batch * 2,
      std::min<size_t>(4096, kPoolBudgetBytes / 2 / EncodedRecordBytes(options.record_size)));
  auto records = MakeRecords(pool_size, options.record_size, options.json_records, options.seed);
  std::string stream_json;
  AppendJsonString(stream_json, options.stream);

  std::vector<PreparedRequest> pool(count);
  std::string body;
  for (size_t r = 0; r < count; ++r) {
    body.clear();
    body += "{\"StreamName\":" + stream_json + ",\"Records\":[";
    // Slices start at spread-out offsets and wrap around the record pool.
    size_t start = r * pool_size / count + r * 7;
    for (size_t i = 0; i < batch; ++i) {
      const auto& record = records[(start + i) % pool_size];
      if (i > 0) body += ',';
      body += "{\"Data\":" + record.data_json + ",\"PartitionKey\":" + record.key_json + '}';
    }
    body += "]}";
    pool[r].raw = BuildKinesisRequest(options.endpoint, "PutRecords", body);
    pool[r].body_offset = pool[r].raw.size() - body.size();
    pool[r].operation = "PutRecords";
    if (options.endpoint.signing) pool[r].body_hash = tideline::auth::Sha256Hex(body);
    pool[r].records = static_cast<uint32_t>(batch);
    pool[r].payload_bytes = batch * options.record_size;
  }
  return pool;
}

std::vector<PreparedRequest> BuildPutRecordPool(const LoadgenOptions& options) {
  size_t count = std::clamp<size_t>(kPoolBudgetBytes / EncodedRecordBytes(options.record_size), 1,
                                    static_cast<size_t>(options.pool_requests) * 16);
  auto records = MakeRecords(count, options.record_size, options.json_records, options.seed);
  std::string stream_json;
  AppendJsonString(stream_json, options.stream);
  std::vector<PreparedRequest> pool(count);
  for (size_t r = 0; r < count; ++r) {
    std::string body = "{\"StreamName\":" + stream_json + ",\"Data\":" + records[r].data_json +
                       ",\"PartitionKey\":" + records[r].key_json + '}';
    pool[r].raw = BuildKinesisRequest(options.endpoint, "PutRecord", body);
    pool[r].body_offset = pool[r].raw.size() - body.size();
    pool[r].operation = "PutRecord";
    if (options.endpoint.signing) pool[r].body_hash = tideline::auth::Sha256Hex(body);
    pool[r].records = 1;
    pool[r].payload_bytes = options.record_size;
  }
  return pool;
}

}  // namespace tideline::loadgen
