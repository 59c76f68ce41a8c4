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
// Thread safety: none; the pipeline's delivery thread owns it.
#pragma once

#include <memory>
#include <string>

#include "pipeline/destination.h"
#include "pipeline/options.h"
#include "pipeline/record_batch.h"
#include "rotating_file.h"

namespace tideline::pipeline {

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

 private:
  BackupWriter() = default;
  struct Target {
    std::unique_ptr<RotatingFile> file;
    std::string staged;
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
