// Append-only NDJSON files in one directory, rotated by size and age: the file destination and
// the backups are made of them.
//
// Durability: Append only buffers in the OS; Sync fsyncs the file (and the directory after a
// file was created). A failed Append or Sync truncates the file back to its last synced length
// and closes it, so a retried flush never leaves a half-written copy behind; the next Append
// starts a new file. Files left with a torn last line by a crash are cut back to their last
// complete line when the writer opens. A new file appears under its final name only once it is
// locked (see OpenNewFile); until then it is a hidden ".<prefix>-*.tmp" that nobody lists.
//
// Thread safety: none; one owner.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tideline::pipeline {

class RotatingFile {
 public:
  struct Options {
    std::filesystem::path dir;
    // File names: <prefix>-YYYY-MM-DD-HH-MM-SS-<n>.ndjson (UTC, creation time).
    std::string prefix;
    uint64_t rotate_bytes = 64u << 20;
    std::chrono::seconds rotate_age{3600};
    // Close the file after every Sync and reopen it for the next Append, holding an exclusive
    // flock while it is open. Another process (a redrive) may then take a file away: it locks
    // it and renames it, and the next Append, finding it gone, starts a new file. Backups use
    // this; the file destination keeps its file open. Default: false
    bool release_after_sync = false;
    // Tests only: called with the temporary path of every new file, after it was created (and
    // locked, with release_after_sync) and before it gets its final name. Default: none
    std::function<void(const std::filesystem::path&)> created_hook_for_test;
  };

  // Creates the directory and repairs torn files; IOError naming the path on failure.
  static Result<std::unique_ptr<RotatingFile>> Open(Options options);
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  // Appends whole lines to the current file, starting a new one when the current is too big or
  // too old.
  Status Append(std::string_view lines);
  // Makes everything appended so far durable.
  Status Sync();
  // Path of the file being written ("" when none is open).
  std::string current_path() const;

 private:
  explicit RotatingFile(Options options) : options_(std::move(options)) {}
  Status OpenNewFile();
  // release_after_sync: reopens path_ if it is still there, under the lock; else a new file.
  Status Reopen();
  // Truncates to the synced length and closes; used after any failure.
  void Abandon();

  Options options_;
  int fd_ = -1;
  std::filesystem::path path_;
  uint64_t size_ = 0;
  uint64_t synced_size_ = 0;
  std::chrono::steady_clock::time_point opened_at_{};
  bool dir_sync_pending_ = false;
  uint64_t sequence_ = 0;
};

// Cuts `path` back to its last complete line (after the last '\n'); a file with no newline
// becomes empty. Returns the bytes removed.
Result<uint64_t> RepairTornTail(const std::filesystem::path& path);

// fsyncs a directory, so that entries created or renamed in it are durable.
Status SyncDirectory(const std::filesystem::path& dir);

// The other side of release_after_sync: opens `path` with `flags`, takes its exclusive flock and
// checks that, once locked, the file is still the one named `path` (one renamed away while we
// waited for the lock is not). The caller closes `fd`, which drops the lock. nullopt when `path`
// names no file any more. O_CLOEXEC is always added to `flags`.
struct LockedFile {
  int fd = -1;
  uint64_t size = 0;
};
Result<std::optional<LockedFile>> OpenLocked(const std::filesystem::path& path, int flags);

}  // namespace tideline::pipeline
