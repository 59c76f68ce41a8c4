#include "file/rotating_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <system_error>
#include <vector>

namespace tideline::pipeline {
namespace {

Status ErrnoStatus(const std::string& what, const std::filesystem::path& path) {
  return Status::IOError(what + " " + path.string() + ": " + std::strerror(errno));
}

std::string FileStamp(std::chrono::system_clock::time_point now) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d-%H-%M-%S", &tm);
  return buf;
}

// A temporary file of OpenNewFile that no live writer holds: empty, or a second name of a file
// that was published. A live writer holds its lock (release_after_sync) from creation to link;
// one that loses its temporary name here fails that Append, which is retried.
void RemoveAbandonedTemporary(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;  // gone already
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) ::unlink(path.c_str());
  ::close(fd);
}

}  // namespace

Status SyncDirectory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening directory", dir);
  const int rc = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  errno = saved;
  if (rc != 0) return ErrnoStatus("fsyncing directory", dir);
  return Status::Ok();
}

Result<std::optional<LockedFile>> OpenLocked(const std::filesystem::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<LockedFile>();
    return ErrnoStatus("opening", path);
  }
  struct stat held {};
  struct stat named {};
  if (::flock(fd, LOCK_EX) != 0 || ::fstat(fd, &held) != 0) {
    const Status s = ErrnoStatus("locking", path);
    ::close(fd);
    return s;
  }
  if (::stat(path.c_str(), &named) != 0 || named.st_ino != held.st_ino ||
      named.st_dev != held.st_dev) {
    ::close(fd);
    return std::optional<LockedFile>();
  }
  return std::optional<LockedFile>(LockedFile{fd, static_cast<uint64_t>(held.st_size)});
}

Result<uint64_t> RepairTornTail(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("opening", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return ErrnoStatus("reading the size of", path);
  }
  // Scan backwards for the last newline, 64 KiB at a time.
  const off_t size = st.st_size;
  off_t keep = 0;
  std::vector<char> buf(64u << 10);
  for (off_t end = size; end > 0 && keep == 0;) {
    const off_t start = end > static_cast<off_t>(buf.size()) ? end - buf.size() : 0;
    const ssize_t n = ::pread(fd, buf.data(), end - start, start);
    if (n != end - start) {
      ::close(fd);
      return ErrnoStatus("reading", path);
    }
    for (off_t i = n; i > 0; --i) {
      if (buf[i - 1] == '\n') {
        keep = start + i;
        break;
      }
    }
    end = start;
  }
  uint64_t removed = 0;
  if (keep < size) {
    if (::ftruncate(fd, keep) != 0 || ::fsync(fd) != 0) {
      const Status s = ErrnoStatus("truncating the torn tail of", path);
      ::close(fd);
      return s;
    }
    removed = static_cast<uint64_t>(size - keep);
  }
  ::close(fd);
  return removed;
}

Result<std::unique_ptr<RotatingFile>> RotatingFile::Open(Options options) {
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) {
    return Status::IOError("creating directory " + options.dir.string() + ": " + ec.message());
  }
  TL_RETURN_IF_ERROR(
      SyncDirectory(options.dir.parent_path().empty() ? "." : options.dir.parent_path()));
  for (const auto& entry : std::filesystem::directory_iterator(options.dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("." + options.prefix + "-") && name.ends_with(".tmp")) {
      RemoveAbandonedTemporary(entry.path());
      continue;
    }
    if (!entry.is_regular_file() || !name.starts_with(options.prefix + "-") ||
        !name.ends_with(".ndjson")) {
      continue;
    }
    auto repaired = RepairTornTail(entry.path());
    if (!repaired.ok()) return repaired.status();
  }
  if (ec) return Status::IOError("listing " + options.dir.string() + ": " + ec.message());
  return std::unique_ptr<RotatingFile>(new RotatingFile(std::move(options)));
}

RotatingFile::~RotatingFile() {
  if (fd_ >= 0) ::close(fd_);
}

Status RotatingFile::OpenNewFile() {
  // The file is created under a hidden temporary name, locked, and only then linked to its
  // final name. Created under the final name and locked afterwards (as it once was), a redrive
  // could list it, lock it and move it into redriving/ in between; the writer would then lock
  // the moved file and append lines into a file that is already being (or was) redriven. Now a
  // file is locked whenever its final name exists and the writer holds it, so a claimer either
  // sees no file or waits for the writer's Sync. link() (unlike rename) fails on an existing
  // name, so two writers of one prefix never replace each other's files.
  const std::string stamp = FileStamp(std::chrono::system_clock::now());
  std::filesystem::path temp;
  int fd = -1;
  for (int tries = 0; tries < 1000 && fd < 0; ++tries) {
    temp = options_.dir / ("." + options_.prefix + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(sequence_++) + ".tmp");
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST) return ErrnoStatus("creating", temp);
  }
  if (fd < 0) return ErrnoStatus("creating", temp);
  auto fail = [&](const std::string& what, const std::filesystem::path& path) {
    const Status s = ErrnoStatus(what, path);
    ::unlink(temp.c_str());  // best effort: Open removes temporary files left behind
    ::close(fd);
    return s;
  };
  if (options_.release_after_sync && ::flock(fd, LOCK_EX) != 0) return fail("locking", temp);
  if (options_.created_hook_for_test) options_.created_hook_for_test(temp);
  std::filesystem::path final_path;
  while (true) {
    final_path = options_.dir /
                 (options_.prefix + "-" + stamp + "-" + std::to_string(sequence_++) + ".ndjson");
    if (::link(temp.c_str(), final_path.c_str()) == 0) break;
    if (errno != EEXIST) return fail("naming", final_path);
  }
  // The file is complete under its final name; a leftover temporary name would only be a second
  // link to it, which Open removes.
  ::unlink(temp.c_str());
  fd_ = fd;
  path_ = std::move(final_path);
  size_ = synced_size_ = 0;
  opened_at_ = std::chrono::steady_clock::now();
  dir_sync_pending_ = true;
  return Status::Ok();
}

Status RotatingFile::Reopen() {
  const bool fresh = size_ < options_.rotate_bytes &&
                     std::chrono::steady_clock::now() - opened_at_ < options_.rotate_age;
  if (path_.empty() || !fresh) return OpenNewFile();
  auto locked = OpenLocked(path_, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (!locked.ok()) return locked.status();
  if (!*locked) return OpenNewFile();  // taken away (redriven) since the last Sync
  fd_ = (*locked)->fd;
  size_ = synced_size_ = (*locked)->size;
  return Status::Ok();
}

Status RotatingFile::Append(std::string_view lines) {
  if (fd_ >= 0 && (size_ >= options_.rotate_bytes ||
                   std::chrono::steady_clock::now() - opened_at_ >= options_.rotate_age)) {
    TL_RETURN_IF_ERROR(Sync());
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    path_.clear();
  }
  if (fd_ < 0) TL_RETURN_IF_ERROR(options_.release_after_sync ? Reopen() : OpenNewFile());
  while (!lines.empty()) {
    const ssize_t n = ::write(fd_, lines.data(), lines.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const Status s = ErrnoStatus("writing", path_);
      Abandon();
      return s;
    }
    size_ += static_cast<uint64_t>(n);
    lines.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

Status RotatingFile::Sync() {
  if (fd_ < 0) return Status::Ok();
  if (size_ != synced_size_ || dir_sync_pending_) {
    if (::fdatasync(fd_) != 0) {
      const Status s = ErrnoStatus("fsyncing", path_);
      Abandon();
      return s;
    }
    synced_size_ = size_;
  }
  if (dir_sync_pending_) {
    TL_RETURN_IF_ERROR(SyncDirectory(options_.dir));
    dir_sync_pending_ = false;
  }
  if (options_.release_after_sync) {
    ::close(fd_);  // also drops the lock
    fd_ = -1;
  }
  return Status::Ok();
}

void RotatingFile::Abandon() {
  if (fd_ < 0) return;
  // Best effort, so the result is not checked: if even this fails, the torn-tail repair at the
  // next open cuts a partial line, and a complete unsynced copy is only a duplicate
  // (at-least-once). The caller reports the original error.
  const int rc = ::ftruncate(fd_, static_cast<off_t>(synced_size_));
  (void)rc;
  ::close(fd_);
  fd_ = -1;
  path_.clear();  // the next Append starts a new file
}

std::string RotatingFile::current_path() const {
  return fd_ >= 0 ? path_.string() : std::string();
}

}  // namespace tideline::pipeline
