#include "info_log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace tideline::storage {
namespace {

constexpr char kLogName[] = "LOG";
constexpr char kOldPrefix[] = "LOG.old.";

}  // namespace

std::shared_ptr<InfoLog> InfoLog::Open(const std::filesystem::path& dir, size_t max_file_size,
                                       size_t keep_files) {
  std::shared_ptr<InfoLog> log(new InfoLog(dir, max_file_size, keep_files));
  std::lock_guard<std::mutex> lock(log->mu_);
  log->Roll();
  return log;
}

InfoLog::InfoLog(std::filesystem::path dir, size_t max_file_size, size_t keep_files)
    : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL),
      dir_(std::move(dir)),
      max_file_size_(max_file_size),
      keep_files_(keep_files) {}

InfoLog::~InfoLog() {
  if (fd_ >= 0) ::close(fd_);
}

uint64_t InfoLog::dropped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dropped_;
}

void InfoLog::Roll() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  size_ = 0;
  std::error_code ec;  // every step is best effort: a log that cannot roll must not stop writes
  const auto log = dir_ / kLogName;
  if (std::filesystem::exists(log, ec)) {
    struct timeval tv {};
    gettimeofday(&tv, nullptr);
    const uint64_t micros = uint64_t(tv.tv_sec) * 1'000'000 + uint64_t(tv.tv_usec);
    std::filesystem::rename(log, dir_ / (kOldPrefix + std::to_string(micros)), ec);
  }
  std::vector<std::filesystem::path> old;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (entry.path().filename().string().starts_with(kOldPrefix)) old.push_back(entry.path());
  }
  std::sort(old.begin(), old.end());  // same-length microsecond stamps: oldest first
  for (size_t i = 0; i + keep_files_ < old.size(); ++i)
    std::filesystem::remove(old[i], ec);
  fd_ = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

void InfoLog::Logv(const char* format, va_list ap) {
  // RocksDB's line format: "2026/12/02-19:08:41.125123 7f9ba30a8f4f message".
  char head[64];
  struct timeval tv {};
  gettimeofday(&tv, nullptr);
  struct tm t {};
  localtime_r(&tv.tv_sec, &t);
  const int head_len = std::snprintf(head, sizeof(head), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %zx ",
                                     t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                                     t.tm_sec, static_cast<long>(tv.tv_usec),
                                     std::hash<std::thread::id>{}(std::this_thread::get_id()));
  std::string line(head, static_cast<size_t>(std::max(head_len, 0)));
  va_list copy;
  va_copy(copy, ap);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n > 0) {
    const size_t at = line.size();
    line.resize(at + static_cast<size_t>(n) + 1);
    std::vsnprintf(line.data() + at, static_cast<size_t>(n) + 1, format, ap);
    line.resize(at + static_cast<size_t>(n));
  }
  if (line.empty() || line.back() != '\n') line.push_back('\n');

  std::lock_guard<std::mutex> lock(mu_);
  if (fd_ < 0 || size_ >= max_file_size_) Roll();
  if (fd_ < 0) {
    ++dropped_;
    return;
  }
  // A short or failed write (ENOSPC) loses this line only; nothing is retried or remembered.
  const ssize_t written = ::write(fd_, line.data(), line.size());
  if (written > 0) size_ += static_cast<size_t>(written);
  if (written != static_cast<ssize_t>(line.size())) ++dropped_;
}

}  // namespace tideline::storage
