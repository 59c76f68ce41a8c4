#include "backup/backup_writer.h"

#include "common/base64.h"
#include "common/json_write.h"

namespace tideline::pipeline {
namespace {

void Base64Value(json::StringWriter& w, std::string_view bytes) {
  std::string encoded = Base64Encode(bytes);
  w.String(encoded.data(), static_cast<rapidjson::SizeType>(encoded.size()));
}

void KinesisMetadata(json::StringWriter& w, std::string_view stream, std::string_view shard,
                     std::string_view partition_key, std::string_view sequence_number,
                     int64_t arrival_ms) {
  w.Key("kinesisRecordMetadata");
  w.StartObject();
  w.Key("stream");
  json::WriteString(w, stream);
  w.Key("shardId");
  json::WriteString(w, shard);
  if (!partition_key.empty()) {
    w.Key("partitionKey");
    json::WriteString(w, partition_key);
  }
  w.Key("sequenceNumber");
  json::WriteString(w, sequence_number);
  w.Key("approximateArrivalTimestamp");
  w.Int64(arrival_ms);
  w.EndObject();
}

// The members every Firehose failure record starts with, up to and including rawData.
struct FailureFields {
  int attempts;
  int64_t arrival_ms;
  std::string_view error_code;
  std::string_view error_message;
  int64_t now_ms;
  std::string_view raw;
};

void WriteFailureFields(json::StringWriter& w, const FailureFields& f) {
  w.Key("attemptsMade");
  w.Int(f.attempts);
  w.Key("arrivalTimestamp");
  w.Int64(f.arrival_ms);
  w.Key("errorCode");
  json::WriteString(w, f.error_code);
  w.Key("errorMessage");
  json::WriteString(w, f.error_message);
  w.Key("attemptEndingTimestamp");
  w.Int64(f.now_ms);
  w.Key("rawData");
  Base64Value(w, f.raw);
}

Result<std::unique_ptr<RotatingFile>> OpenTarget(const std::string& root, const char* sub) {
  RotatingFile::Options o;
  o.dir = std::filesystem::path(root) / sub;
  o.prefix = sub;
  o.release_after_sync = true;  // `tideline backup redrive` may take files away
  return RotatingFile::Open(std::move(o));
}

}  // namespace

Result<std::unique_ptr<BackupWriter>> BackupWriter::Open(const BackupOptions& options,
                                                         const std::string& pipeline_name,
                                                         std::string_view destination_type) {
  std::unique_ptr<BackupWriter> w(new BackupWriter());
  w->root_ = (std::filesystem::path(options.path) / pipeline_name).string();
  w->all_documents_ = options.mode == BackupMode::kAllDocuments;
  auto pf = OpenTarget(w->root_, "processing-failed");
  if (!pf.ok()) return pf.status();
  w->processing_failed_.file = std::move(*pf);
  const std::string failed = std::string(destination_type) + "-failed";
  auto df = OpenTarget(w->root_, failed.c_str());
  if (!df.ok()) return df.status();
  w->delivery_failed_.file = std::move(*df);
  if (w->all_documents_) {
    const std::string all = std::string(destination_type) + "-all";
    auto a = OpenTarget(w->root_, all.c_str());
    if (!a.ok()) return a.status();
    w->all_.file = std::move(*a);
  }
  return w;
}

void BackupWriter::AddProcessingFailed(RecordBatch& batch, const PipelineRecord& record,
                                       int64_t now_ms) {
  std::string& out = processing_failed_.staged;
  json::StringAppender sink(out);
  json::StringWriter w(sink);
  w.StartObject();
  WriteFailureFields(w, {record.attempts, record.arrival_ms, record.error_code,
                         record.error_message, now_ms, record.raw});
  KinesisMetadata(w, batch.stream().get(), batch.shard().get(), record.partition_key,
                  batch.SequenceNumberOf(record).get(), record.arrival_ms);
  w.EndObject();
  out.push_back('\n');
  ++processing_failed_.staged_lines;
  ++pending_;
}

void AppendDocumentLine(std::string& out, const Document& doc, const DeliveryResult& result,
                        int64_t now_ms) {
  json::StringAppender sink(out);
  json::StringWriter w(sink);
  w.StartObject();
  WriteFailureFields(w, {result.attempts, doc.arrival_ms, result.error_code, result.error_message,
                         now_ms, doc.body});
  w.Key("esDocumentId");
  json::WriteString(w, result.auto_id ? std::string_view() : doc.id);
  w.Key("esIndexName");
  json::WriteString(w, result.target);
  KinesisMetadata(w, doc.stream, doc.shard, {}, doc.sequence_number, doc.arrival_ms);
  w.EndObject();
  out.push_back('\n');
}

void BackupWriter::AddDocumentLine(Target& target, const Document& doc,
                                   const DeliveryResult& result, int64_t now_ms) {
  AppendDocumentLine(target.staged, doc, result, now_ms);
  ++target.staged_lines;
  ++pending_;
}

void BackupWriter::AddFailedDocument(const Document& doc, const DeliveryResult& result,
                                     int64_t now_ms) {
  AddDocumentLine(delivery_failed_, doc, result, now_ms);
}

void BackupWriter::AddDeliveredDocument(const Document& doc, const DeliveryResult& result,
                                        int64_t now_ms) {
  if (all_documents_) AddDocumentLine(all_, doc, result, now_ms);
}

Status BackupWriter::Commit() {
  for (Target* t : {&processing_failed_, &delivery_failed_, &all_}) {
    if (t->staged.empty()) continue;
    TL_RETURN_IF_ERROR(t->file->Append(t->staged));
    TL_RETURN_IF_ERROR(t->file->Sync());
    t->staged.clear();
    t->committed_lines.fetch_add(t->staged_lines, std::memory_order_relaxed);
    t->staged_lines = 0;
  }
  pending_ = 0;
  return Status::Ok();
}

}  // namespace tideline::pipeline
