// The file destination: NDJSON documents with their metadata, fsynced before acknowledging.
#include <rapidjson/writer.h>
#include <atomic>

#include "common/json_parse.h"
#include "common/json_write.h"
#include "file/rotating_file.h"
#include "pipeline/destination.h"

namespace tideline::pipeline {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back()))
    s.remove_suffix(1);
  return s;
}

class FileDestination final : public Destination {
 public:
  FileDestination(std::unique_ptr<RotatingFile> file, std::string dir, uint32_t max_depth)
      : file_(std::move(file)), dir_(std::move(dir)), max_depth_(max_depth) {}

  std::string_view type() const override { return "file"; }
  std::string description() const override { return "file:" + dir_; }

  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token) override {
    lines_.clear();
    json::StringAppender sink(lines_);
    for (size_t i = 0; i < docs.size(); ++i) {
      const Document& d = docs[i];
      DeliveryResult& r = results[i];
      r = DeliveryResult{};
      r.target = dir_;
      const std::string_view body = TrimSpace(d.body);
      if (!d.body_is_json_object) {
        if (auto error = json::CheckJsonObject(body, json::Limits{.max_depth = max_depth_})) {
          r.error_code = "InvalidDocument";
          r.error_message = "the document is not a JSON object: " + std::move(*error);
          continue;
        }
      }
      json::StringWriter w(sink);
      w.StartObject();
      w.Key("id");
      json::WriteString(w, d.id);
      w.Key("stream");
      json::WriteString(w, d.stream);
      w.Key("shard");
      json::WriteString(w, d.shard);
      w.Key("sequenceNumber");
      json::WriteString(w, d.sequence_number);
      w.Key("approximateArrivalTimestamp");
      w.Int64(d.arrival_ms);
      w.Key("document");
      // Already validated as one JSON object: embedded as is, without re-encoding.
      w.RawValue(body.data(), body.size(), rapidjson::kObjectType);
      w.EndObject();
      lines_.push_back('\n');
      r.delivered = true;
    }
    TL_RETURN_IF_ERROR(file_->Append(lines_));
    TL_RETURN_IF_ERROR(file_->Sync());
    requests_.fetch_add(1, std::memory_order_relaxed);
    bytes_.fetch_add(lines_.size(), std::memory_order_relaxed);
    return Status::Ok();
  }

  DestinationCounters counters() const override {
    DestinationCounters c;
    c.requests = requests_.load(std::memory_order_relaxed);
    c.bytes_sent = bytes_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  std::unique_ptr<RotatingFile> file_;
  std::string dir_;
  const uint32_t max_depth_;
  std::string lines_;                  // reused across calls
  std::atomic<uint64_t> requests_{0};  // fsynced appends
  std::atomic<uint64_t> bytes_{0};
};

}  // namespace

Result<std::unique_ptr<Destination>> MakeFileDestination(const FileDestinationOptions& options,
                                                         const std::string& pipeline_name,
                                                         uint32_t max_document_depth) {
  RotatingFile::Options o;
  o.dir = std::filesystem::path(options.path) / pipeline_name;
  o.prefix = pipeline_name;
  o.rotate_bytes = static_cast<uint64_t>(options.rotate_mib) << 20;
  o.rotate_age = std::chrono::seconds(options.rotate_interval_s);
  auto file = RotatingFile::Open(o);
  if (!file.ok()) return file.status();
  return std::unique_ptr<Destination>(
      new FileDestination(std::move(*file), o.dir.string(), max_document_depth));
}

}  // namespace tideline::pipeline
