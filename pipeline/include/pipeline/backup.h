// A pipeline's backup files, for operators: listing them and sending their documents again
// (`tideline backup list|redrive`). The file formats are in pipeline/PIPELINE.md.
//
// Layout: <backup dir>/<pipeline>/<kind>/*.ndjson, kind = processing-failed, <type>-failed or
// <type>-all. A redrive moves each file it works on into <kind>/redriving/ and, once every
// document in it was delivered or written to a new redrive-failed-*.ndjson, into
// <kind>/redriven/. A running pipeline may keep appending to its backups meanwhile: it takes
// an flock on a file only while appending, and starts a new file when its file was taken away.
// Each redrive claims a file exclusively (an OFD lock held until the file is in redriven/), so
// concurrent redrives over the same directory never send the same file twice: a file another
// redrive holds is skipped (RedriveProgress::files_busy).
#pragma once

#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "pipeline/destination.h"

namespace tideline::pipeline {

struct BackupFile {
  std::string path;
  // The directory kind: "processing-failed", "opensearch-failed", "opensearch-all", ...
  std::string kind;
  // "pending" (not redriven), "redriving" (claimed by a redrive that did not finish: the next
  // redrive takes it up first) or "redriven".
  std::string state;
  uint64_t bytes = 0;
  uint64_t lines = 0;
  // Lines per errorCode, most frequent first.
  std::vector<std::pair<std::string, uint64_t>> error_codes;
};

// Every backup file under `root`: a backup directory, one pipeline's, one kind's, or a file.
// Sorted by path. Lines and error codes are counted by reading the files.
Result<std::vector<BackupFile>> ListBackupFiles(const std::string& root);

struct RedriveProgress {
  uint64_t files_total = 0;
  uint64_t files_done = 0;
  uint64_t bytes_total = 0;
  uint64_t bytes_done = 0;
  uint64_t documents_delivered = 0;
  // Failed again (written to a redrive-failed file), including unreadable lines.
  uint64_t documents_failed = 0;
  // processing-failed files are source records, not documents: they are not redriven.
  uint64_t files_skipped = 0;
  // Files another redrive (a concurrent `tideline backup redrive`) was sending: skipped, and
  // logged as a warning. They are not counted in files_done.
  uint64_t files_busy = 0;
  std::string current_file;
};

struct RedriveOptions {
  // Called after every batch and file. Default: none
  std::function<void(const RedriveProgress&)> progress;
  // Documents handed to the destination at once. Default: 5000 documents or 5 MiB
  size_t batch_documents = 5000;
  size_t batch_bytes = 5u << 20;
};

// Sends every document of the pending (and interrupted) *-failed and *-all files under `root`
// through `destination` again: same index (esIndexName) and id (esDocumentId, sent as a
// create, so a document already indexed answers 409 and counts as delivered). Documents that
// fail again are appended and fsynced to redrive-failed-*.ndjson in the file's directory,
// with attemptsMade increased, before the file moves to redriven/. Stopping leaves the file in
// redriving/; running again resumes it (with stable ids, resending is harmless).
// Errors: a file that cannot be read, claimed or moved (IOError), or a stop (Unavailable).
Result<RedriveProgress> RedriveBackups(const std::string& root, Destination& destination,
                                       const RedriveOptions& options, std::stop_token stop);

}  // namespace tideline::pipeline
