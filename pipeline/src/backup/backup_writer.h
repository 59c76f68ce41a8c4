// The pipeline's backup: Firehose-format JSON lines for records that failed processing and
// documents the destination refused, under <backup dir>/<pipeline>/:
//   processing-failed/   {"attemptsMade", "arrivalTimestamp", "errorCode", "errorMessage",
//                         "attemptEndingTimestamp", "rawData" (base64 of the stored record),
//                         "kinesisRecordMetadata": {...}}
//   <type>-failed/       the same keys with "rawData" = base64 of the document sent, plus
//                        "esDocumentId", "esIndexName" (type is the destination's, e.g. file)
//   <type>-all/          AllDocuments mode: every delivered document, same shape, errorCode ""
// Lines are staged with Add*() and made durable together by Commit().
//
// Thread safety: none, except committed(); the pipeline's delivery thread owns it.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "file/rotating_file.h"
#include "pipeline/destination.h"
#include "pipeline/options.h"
#include "pipeline/record_batch.h"

namespace tideline::pipeline {

// Appends one failed-document line (the <type>-failed format above) to `out`.
void AppendDocumentLine(std::string& out, const Document& doc, const DeliveryResult& result,
                        int64_t now_ms);

class BackupWriter {
 public:
  static Result<std::unique_ptr<BackupWriter>> Open(const BackupOptions& options,
                                                    const std::string& pipeline_name,
                                                    std::string_view destination_type);

  void AddProcessingFailed(RecordBatch& batch, const PipelineRecord& record, int64_t now_ms);
  void AddFailedDocument(const Document& doc, const DeliveryResult& result, int64_t now_ms);
  // AllDocuments mode only (no-op otherwise).
  void AddDeliveredDocument(const Document& doc, const DeliveryResult& result, int64_t now_ms);

  // Appends and fsyncs everything staged. On error nothing staged counts as backed up; the
  // staged lines are kept, so Commit can simply be called again.
  Status Commit();
  // Lines staged and not yet committed.
  size_t pending() const { return pending_; }
  std::string directory() const { return root_; }

  // Lines made durable so far, per file kind; may be read from any thread.
  struct Counts {
    uint64_t processing_failed = 0;
    uint64_t delivery_failed = 0;
    uint64_t all = 0;
  };
  Counts committed() const {
    return {processing_failed_.committed_lines.load(std::memory_order_relaxed),
            delivery_failed_.committed_lines.load(std::memory_order_relaxed),
            all_.committed_lines.load(std::memory_order_relaxed)};
  }

 private:
  BackupWriter() = default;
  struct Target {
    std::unique_ptr<RotatingFile> file;
    std::string staged;
    size_t staged_lines = 0;
    std::atomic<uint64_t> committed_lines{0};
  };
  void AddDocumentLine(Target& target, const Document& doc, const DeliveryResult& result,
                       int64_t now_ms);

  std::string root_;
  bool all_documents_ = false;
  Target processing_failed_;
  Target delivery_failed_;
  Target all_;
  size_t pending_ = 0;
};

}  // namespace tideline::pipeline
