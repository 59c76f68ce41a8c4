// RocksDB's info log (data_dir/LOG) written by the store instead of RocksDB. Private to storage.
#pragma once

#include <rocksdb/env.h>

#include <cstdarg>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>

namespace tideline::storage {

// Why our own: RocksDB 7.8's file logger (EnvLogger) asserts, and so aborts the process in
// builds with assertions such as Debian's, on the first line it writes after a write of the
// LOG file failed, e.g. on a full disk (WritableFileWriter::AssertFalseAndGetStatusForPrevError;
// fixed upstream later). This logger writes each line with write(2) and drops lines the disk
// will not take, so a full disk fails appends (sticky) instead of killing the server.
//
// Same place, format and rolling as RocksDB's: LOG, rolled to LOG.old.<microseconds> at open
// and past max_file_size, keeping the newest keep_files old logs. Thread-safe (mu_).
class InfoLog final : public rocksdb::Logger {
 public:
  static std::shared_ptr<InfoLog> Open(const std::filesystem::path& dir, size_t max_file_size,
                                       size_t keep_files);
  ~InfoLog() override;

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override;

  // Lines dropped because a write failed.
  uint64_t dropped() const;

 private:
  InfoLog(std::filesystem::path dir, size_t max_file_size, size_t keep_files);
  // Moves LOG aside, deletes the oldest old logs and opens a fresh LOG. Called with mu_ held.
  void Roll();

  const std::filesystem::path dir_;
  const size_t max_file_size_;
  const size_t keep_files_;
  mutable std::mutex mu_;
  int fd_ = -1;           // GUARDED_BY(mu_); -1 when LOG could not be opened
  size_t size_ = 0;       // GUARDED_BY(mu_)
  uint64_t dropped_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace tideline::storage
