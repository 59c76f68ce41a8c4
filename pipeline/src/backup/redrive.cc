// Backup files for operators: listing, and redriving their documents through a destination.
#include <fcntl.h>
#include <rapidjson/document.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/clock.h"
#include "common/json_parse.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <utility>

#include "backup/backup_writer.h"
#include "common/base64.h"
#include "core/pipeline_log.h"
#include "file/rotating_file.h"
#include "pipeline/backup.h"

namespace tideline::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kRedriving = "redriving";
constexpr std::string_view kRedriven = "redriven";

Status IoError(const std::string& what, const fs::path& path) {
  return Status::IOError(what + " " + path.string() + ": " + std::strerror(errno));
}

// Kind and state of a backup file from where it lies.
void Classify(const fs::path& path, BackupFile& f) {
  const fs::path parent = path.parent_path();
  const std::string dir = parent.filename().string();
  if (dir == kRedriving || dir == kRedriven) {
    f.state = dir;
    f.kind = parent.parent_path().filename().string();
  } else {
    f.state = "pending";
    f.kind = dir;
  }
}

// Documents a destination refused (<type>-failed) or delivered (<type>-all). processing-failed
// holds source records that never became documents.
bool Redrivable(const BackupFile& f) {
  return f.kind != "processing-failed" && (f.kind.ends_with("-failed") || f.kind.ends_with("-all"));
}

// Moves `from` into the sibling directory `sub` of its kind directory, durably.
Result<fs::path> MoveInto(const fs::path& from, const fs::path& kind_dir, std::string_view sub) {
  const fs::path dir = kind_dir / sub;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("creating " + dir.string() + ": " + ec.message());
  const fs::path to = dir / from.filename();
  if (::rename(from.c_str(), to.c_str()) != 0) return IoError("moving", from);
  TL_RETURN_IF_ERROR(SyncDirectory(dir));
  TL_RETURN_IF_ERROR(SyncDirectory(from.parent_path()));
  return to;
}

// A redrive's claim on a backup file: an open file description holding an OFD lock (fcntl
// F_OFD_SETLK, write lock on the whole file) for as long as the redrive works on the file,
// until it is in redriven/. Two redrives therefore never send the same file: the second one
// finds the lock taken and skips the file. The lock dies with the process, so the file of a
// redrive that crashed is free for the next one.
//
// Two locks, because they mean different things: the pipeline's flock (rotating_file.h) is held
// only while it appends and fsyncs, and a redrive takes it just long enough to move a pending
// file away; the OFD lock is the long-lived, non-blocking redrive claim. On Linux flock and
// fcntl locks are independent (backup directories must be local filesystems: NFS emulates
// flock with fcntl locks).
class Claim {
 public:
  enum class Outcome { kClaimed, kGone, kBusy };
  Claim() = default;
  Claim(Claim&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(other.path_) {}
  Claim& operator=(Claim&&) = delete;
  ~Claim() {
    if (fd_ >= 0) ::close(fd_);  // drops the claim
  }

  // Claims `path`; a pending file (not under redriving/) is moved into redriving/ first, under
  // the pipeline's flock, so never in the middle of an append. kGone: another redrive sent it
  // meanwhile; kBusy: another redrive holds it now.
  Result<Outcome> Take(const fs::path& path, const fs::path& kind_dir, bool pending) {
    // O_RDWR: a write lock needs a descriptor open for writing; nothing is written.
    fd_ = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd_ < 0) {
      if (errno == ENOENT) return Outcome::kGone;
      return IoError("opening", path);
    }
    struct flock whole {};
    whole.l_type = F_WRLCK;
    whole.l_whence = SEEK_SET;
    if (::fcntl(fd_, F_OFD_SETLK, &whole) != 0) {
      if (errno == EAGAIN || errno == EACCES) return Outcome::kBusy;
      return IoError("claiming", path);
    }
    // Claimed; but a redrive that finished the file may have moved it to redriven/ between
    // our listing and our open.
    if (!Names(path)) return Outcome::kGone;
    path_ = path;
    if (!pending) return Outcome::kClaimed;
    if (::flock(fd_, LOCK_EX) != 0) return IoError("locking", path);
    auto moved = MoveInto(path, kind_dir, kRedriving);
    // Unlocked either way: the pipeline's next append finds the file gone and starts another.
    ::flock(fd_, LOCK_UN);
    if (!moved.ok()) return moved.status();
    path_ = *moved;
    return Outcome::kClaimed;
  }
  const fs::path& path() const { return path_; }

 private:
  // Whether `path` still names the file we hold.
  bool Names(const fs::path& path) const {
    struct stat held {};
    struct stat named {};
    return ::fstat(fd_, &held) == 0 && ::stat(path.c_str(), &named) == 0 &&
           held.st_ino == named.st_ino && held.st_dev == named.st_dev;
  }

  int fd_ = -1;
  fs::path path_;
};

// One parsed backup line, owning what the Document views.
struct Entry {
  std::string body;
  std::string id;
  std::string index;
  std::string stream;
  std::string shard;
  std::string sequence_number;
  int64_t arrival_ms = 0;
  int attempts = 0;
};

std::string GetString(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

int64_t GetInt64(const rapidjson::Value& v, const char* key) {
  auto it = v.FindMember(key);
  return it != v.MemberEnd() && it->value.IsInt64() ? it->value.GetInt64() : 0;
}

// nullopt when the line is not a failed-document line we can send.
std::optional<Entry> ParseLine(std::string_view line) {
  rapidjson::Document d;
  if (json::ParseJson(d, line, json::kPeerResponseLimits) || !d.IsObject()) return std::nullopt;
  auto raw = d.FindMember("rawData");
  if (raw == std::as_const(d).MemberEnd() || !raw->value.IsString()) return std::nullopt;
  auto body = Base64Decode(std::string_view(raw->value.GetString(), raw->value.GetStringLength()));
  if (!body) return std::nullopt;
  Entry e;
  e.body = std::move(*body);
  e.id = GetString(d, "esDocumentId");
  e.index = GetString(d, "esIndexName");
  e.arrival_ms = GetInt64(d, "arrivalTimestamp");
  e.attempts = static_cast<int>(GetInt64(d, "attemptsMade"));
  auto meta = d.FindMember("kinesisRecordMetadata");
  if (meta != std::as_const(d).MemberEnd() && meta->value.IsObject()) {
    e.stream = GetString(meta->value, "stream");
    e.shard = GetString(meta->value, "shardId");
    e.sequence_number = GetString(meta->value, "sequenceNumber");
  }
  return e;
}

class Redriver {
 public:
  Redriver(Destination& destination, const RedriveOptions& options, std::stop_token stop)
      : destination_(destination), options_(options), stop_(stop) {}

  Status File(const fs::path& path, const fs::path& kind_dir, RedriveProgress& progress);

 private:
  Status SendBatch(const fs::path& kind_dir, RedriveProgress& progress);
  Status WriteFailed(const fs::path& kind_dir, std::string_view lines);

  Destination& destination_;
  const RedriveOptions& options_;
  std::stop_token stop_;
  std::vector<Entry> batch_;
  size_t batch_bytes_ = 0;
  std::string failed_lines_;
  std::map<fs::path, std::unique_ptr<RotatingFile>> failed_files_;
};

Status Redriver::WriteFailed(const fs::path& kind_dir, std::string_view lines) {
  auto& file = failed_files_[kind_dir];
  if (!file) {
    RotatingFile::Options o;
    o.dir = kind_dir;
    o.prefix = "redrive-failed";
    o.release_after_sync = true;
    auto opened = RotatingFile::Open(std::move(o));
    if (!opened.ok()) return opened.status();
    file = std::move(*opened);
  }
  TL_RETURN_IF_ERROR(file->Append(lines));
  return file->Sync();
}

Status Redriver::SendBatch(const fs::path& kind_dir, RedriveProgress& progress) {
  if (!batch_.empty()) {
    std::vector<Document> docs(batch_.size());
    for (size_t i = 0; i < batch_.size(); ++i) {
      const Entry& e = batch_[i];
      docs[i] = Document{e.id,         e.body, false, e.stream, e.shard, e.sequence_number,
                         e.arrival_ms, e.index};
    }
    std::vector<DeliveryResult> results(docs.size());
    TL_RETURN_IF_ERROR(destination_.Deliver(docs, results, stop_));
    const int64_t now = WallClockMs();
    for (size_t i = 0; i < docs.size(); ++i) {
      if (results[i].delivered) {
        ++progress.documents_delivered;
        continue;
      }
      ++progress.documents_failed;
      results[i].attempts += batch_[i].attempts;
      AppendDocumentLine(failed_lines_, docs[i], results[i], now);
    }
  }
  if (!failed_lines_.empty()) {
    TL_RETURN_IF_ERROR(WriteFailed(kind_dir, failed_lines_));
    failed_lines_.clear();
  }
  batch_.clear();
  batch_bytes_ = 0;
  if (options_.progress) options_.progress(progress);
  return Status::Ok();
}

Status Redriver::File(const fs::path& path, const fs::path& kind_dir, RedriveProgress& progress) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return IoError("opening", path);
  progress.current_file = path.string();
  std::string line;
  while (std::getline(in, line)) {
    progress.bytes_done += line.size() + 1;
    if (line.empty()) continue;
    std::optional<Entry> e = ParseLine(line);
    if (!e) {
      // Kept as it is, so nothing of it is lost; it cannot be sent.
      ++progress.documents_failed;
      failed_lines_.append(line).push_back('\n');
      continue;
    }
    batch_bytes_ += e->body.size();
    batch_.push_back(std::move(*e));
    if (batch_.size() >= options_.batch_documents || batch_bytes_ >= options_.batch_bytes) {
      TL_RETURN_IF_ERROR(SendBatch(kind_dir, progress));
    }
  }
  if (in.bad()) return IoError("reading", path);
  return SendBatch(kind_dir, progress);
}

}  // namespace

Result<std::vector<BackupFile>> ListBackupFiles(const std::string& root) {
  std::vector<fs::path> paths;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    paths.emplace_back(root);
  } else if (fs::is_directory(root, ec)) {
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (it->is_regular_file() && it->path().extension() == ".ndjson") {
        paths.push_back(it->path());
      }
    }
    if (ec) return Status::IOError("listing " + root + ": " + ec.message());
  } else {
    return Status::NotFound("no backup file or directory " + root);
  }
  std::sort(paths.begin(), paths.end());
  std::vector<BackupFile> out;
  for (const fs::path& p : paths) {
    BackupFile f;
    f.path = p.string();
    Classify(p, f);
    std::ifstream in(p, std::ios::binary);
    if (!in) {
      // Moved meanwhile (a concurrent redrive claimed or finished it): not there to list.
      std::error_code gone;
      if (!fs::exists(p, gone) && !gone) continue;
      return IoError("opening", p);
    }
    std::map<std::string, uint64_t> codes;
    std::string line;
    rapidjson::Document d;
    while (std::getline(in, line)) {
      f.bytes += line.size() + 1;
      if (line.empty()) continue;
      ++f.lines;
      const bool parsed = !json::ParseJson(d, line, json::kPeerResponseLimits) && d.IsObject();
      const std::string code = parsed ? GetString(d, "errorCode") : "(unreadable)";
      ++codes[code.empty() && f.kind.ends_with("-all") ? "(delivered)" : code];
    }
    f.error_codes.assign(codes.begin(), codes.end());
    std::stable_sort(f.error_codes.begin(), f.error_codes.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    out.push_back(std::move(f));
  }
  return out;
}

Result<RedriveProgress> RedriveBackups(const std::string& root, Destination& destination,
                                       const RedriveOptions& options, std::stop_token stop) {
  auto files = ListBackupFiles(root);
  if (!files.ok()) return files.status();
  RedriveProgress progress;
  std::vector<BackupFile> to_redrive;
  for (BackupFile& f : *files) {
    if (f.state == kRedriven) continue;
    if (!Redrivable(f)) {
      ++progress.files_skipped;
      continue;
    }
    progress.bytes_total += f.bytes;
    to_redrive.push_back(std::move(f));
  }
  // Interrupted redrives first: their files were taken from the pipeline already.
  std::stable_partition(to_redrive.begin(), to_redrive.end(),
                        [](const BackupFile& f) { return f.state == kRedriving; });
  progress.files_total = to_redrive.size();
  Redriver redriver(destination, options, stop);
  for (const BackupFile& f : to_redrive) {
    const fs::path path = f.path;
    const fs::path kind_dir =
        f.state == kRedriving ? path.parent_path().parent_path() : path.parent_path();
    Claim claim;
    auto taken = claim.Take(path, kind_dir, f.state != kRedriving);
    if (!taken.ok()) return taken.status();
    if (*taken == Claim::Outcome::kGone) {
      ++progress.files_done;  // sent by another redrive meanwhile
      continue;
    }
    if (*taken == Claim::Outcome::kBusy) {
      ++progress.files_busy;
      PipelineLogger()->warn("redrive: skipping {}: another redrive is sending it", f.path);
      if (options.progress) options.progress(progress);
      continue;
    }
    TL_RETURN_IF_ERROR(redriver.File(claim.path(), kind_dir, progress));
    // Moved while still claimed, so no other redrive can take it up as interrupted.
    auto done = MoveInto(claim.path(), kind_dir, kRedriven);
    if (!done.ok()) return done.status();
    ++progress.files_done;
    if (options.progress) options.progress(progress);
  }
  return progress;
}

}  // namespace tideline::pipeline
