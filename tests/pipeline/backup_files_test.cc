// Backup files under concurrency: a writer's new files are never visible unlocked, and
// concurrent redrives over one backup directory send every document exactly once.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backup/backup_writer.h"
#include "file/rotating_file.h"
#include "pipeline/backup.h"
#include "test_util/temp_dir.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> ReadLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

std::vector<fs::path> FilesUnder(const fs::path& dir, const std::string& extension) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == extension) out.push_back(e.path());
  }
  return out;
}

// Backup-style files under `dir`: each released to redrives once it is synced, a new file
// after `rotate_bytes`.
RotatingFile::Options BackupFiles(const fs::path& dir, uint64_t rotate_bytes) {
  RotatingFile::Options o;
  o.dir = dir;
  o.prefix = "backup";
  o.release_after_sync = true;
  o.rotate_bytes = rotate_bytes;
  return o;
}

// What a redrive does to a pending file: lock it (waiting for the writer's append), check it
// is still the file of that name, and move it away. Records the size it had when taken.
void TakeAway(const fs::path& path, const fs::path& to_dir,
              std::map<fs::path, uintmax_t>& size_at_take) {
  auto locked = OpenLocked(path, O_RDONLY);
  if (!locked.ok() || !*locked) return;
  const fs::path to = to_dir / path.filename();
  if (::rename(path.c_str(), to.c_str()) == 0) size_at_take[to] = (*locked)->size;
  ::close((*locked)->fd);
}

TEST(RotatingFileTest, ANewFileIsNeverVisibleBeforeItIsLocked) {
  testing::TempDir dir;
  const fs::path files = dir.Sub("files");
  const fs::path taken = dir.Sub("taken");
  fs::create_directories(taken);
  RotatingFile::Options o = BackupFiles(files, 1);  // every Append starts a new file
  int hooks = 0;
  std::map<fs::path, uintmax_t> size_at_take;
  // Runs where a concurrent redrive could run: the file exists on disk, its writer has not
  // written to it yet. Whatever a redrive can take away here must not receive the append.
  o.created_hook_for_test = [&](const fs::path& created) {
    ++hooks;
    EXPECT_TRUE(fs::exists(created));
    for (const fs::path& f : FilesUnder(files, ".ndjson")) {
      if (f.filename().string().starts_with("backup-")) TakeAway(f, taken, size_at_take);
    }
  };
  auto file = RotatingFile::Open(o);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE((*file)->Append("line-" + std::to_string(i) + "\n").ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  EXPECT_EQ(hooks, 5);
  EXPECT_EQ(size_at_take.size(), 4u);  // every file but the last, each after its Sync
  for (const auto& [path, size] : size_at_take) {
    EXPECT_GT(size, 0u) << path << " was taken before its writer wrote it";
    EXPECT_EQ(fs::file_size(path), size) << path << " grew after it was taken";
  }
  // Files taken away (the earlier, synced ones) hold exactly what was synced before they were
  // taken; every line is in exactly one file.
  std::map<std::string, int> seen;
  for (const fs::path& f : FilesUnder(dir.path(), ".ndjson")) {
    const auto lines = ReadLines(f);
    EXPECT_EQ(lines.size(), 1u) << f;
    for (const auto& l : lines)
      ++seen[l];
  }
  EXPECT_EQ(seen.size(), 5u);
  for (const auto& [line, n] : seen)
    EXPECT_EQ(n, 1) << line;
  EXPECT_TRUE(FilesUnder(files, ".tmp").empty());
}

TEST(RotatingFileTest, AppendsNeverLandInAFileTakenAwayConcurrently) {
  testing::TempDir dir;
  const fs::path files = dir.Sub("files");
  const fs::path taken = dir.Sub("taken");
  fs::create_directories(taken);
  RotatingFile::Options o = BackupFiles(files, 64);  // a new file every few appends
  auto file = RotatingFile::Open(o);
  ASSERT_TRUE(file.ok());
  constexpr int kLines = 300;
  std::atomic<bool> done{false};
  // Size of every taken file when it was taken (under its lock): nothing may be added later.
  std::map<fs::path, uintmax_t> size_at_take;
  std::thread taker([&] {
    while (!done.load()) {
      for (const fs::path& f : FilesUnder(files, ".ndjson")) {
        TakeAway(f, taken, size_at_take);
      }
    }
  });
  for (int i = 0; i < kLines; ++i) {
    ASSERT_TRUE((*file)->Append("line-" + std::to_string(i) + "\n").ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  done = true;
  taker.join();
  for (const auto& [path, size] : size_at_take)
    EXPECT_EQ(fs::file_size(path), size) << path << " grew after it was taken";
  std::map<std::string, int> seen;
  for (const fs::path& f : FilesUnder(dir.path(), ".ndjson")) {
    for (const auto& l : ReadLines(f))
      ++seen[l];
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kLines));
  for (const auto& [line, n] : seen)
    EXPECT_EQ(n, 1) << line;
}

TEST(RotatingFileTest, OpenRemovesTemporaryFilesNobodyHolds) {
  testing::TempDir dir;
  const fs::path files = dir.Sub("files");
  fs::create_directories(files);
  std::ofstream(files / ".backup-123-0.tmp").put('x');
  RotatingFile::Options o;
  o.dir = files;
  o.prefix = "backup";
  ASSERT_TRUE(RotatingFile::Open(o).ok());
  EXPECT_FALSE(fs::exists(files / ".backup-123-0.tmp"));
}

// Counts every document id it is given; the first call can be held at a gate.
class CountingDestination final : public Destination {
 public:
  std::string_view type() const override { return "opensearch"; }
  std::string description() const override { return "counting"; }
  Status Deliver(std::span<const Document> docs, std::span<DeliveryResult> results,
                 std::stop_token) override {
    std::unique_lock<std::mutex> lock(mu_);
    const bool first = calls_++ == 0;
    changed_.notify_all();
    if (first) changed_.wait(lock, [&] { return open_; });
    for (size_t i = 0; i < docs.size(); ++i) {
      ++sent_[std::string(docs[i].id)];
      results[i].delivered = true;
    }
    return Status::Ok();
  }
  void HoldFirstCall() { open_ = false; }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  bool WaitForFirstCall() {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, tideline::testing::Scaled(std::chrono::seconds(30)),
                             [&] { return calls_ > 0; });
  }
  std::map<std::string, int> sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int calls_ = 0;                    // GUARDED_BY(mu_)
  bool open_ = true;                 // GUARDED_BY(mu_)
  std::map<std::string, int> sent_;  // GUARDED_BY(mu_)
};

// Writes `files` backup files of `docs` failed documents each under <root>/pipe/opensearch-failed.
std::set<std::string> WriteBackups(const fs::path& root, int files, int docs) {
  const fs::path dir = root / "pipe" / "opensearch-failed";
  fs::create_directories(dir);
  std::set<std::string> ids;
  for (int f = 0; f < files; ++f) {
    std::string lines;
    for (int d = 0; d < docs; ++d) {
      const std::string id = "logs-" + std::to_string(f * 100000 + d);
      Document doc;
      doc.id = id;
      doc.body = R"({"n": 1})";
      doc.stream = "logs";
      doc.shard = "shardId-000000000000";
      doc.sequence_number = "1";
      DeliveryResult r;
      r.error_code = "429";
      r.target = "logs-index";
      AppendDocumentLine(lines, doc, r, 0);
      ids.insert(id);
    }
    char name[64];
    std::snprintf(name, sizeof(name), "opensearch-failed-2026-01-01-00-00-00-%03d.ndjson", f);
    std::ofstream(dir / name) << lines;
  }
  return ids;
}

TEST(RedriveTest, ASecondRedriveSkipsTheFileTheFirstIsSending) {
  testing::TempDir dir;
  const fs::path root = dir.Sub("backup");
  const auto ids = WriteBackups(root, 4, 10);
  CountingDestination dest;
  dest.HoldFirstCall();
  RedriveOptions options;
  Result<RedriveProgress> first = Status::Unavailable("not run");
  std::thread a([&] { first = RedriveBackups(root.string(), dest, options, {}); });
  // The first redrive holds the first file (claimed, in redriving/) inside Deliver.
  ASSERT_TRUE(dest.WaitForFirstCall());
  auto second = RedriveBackups(root.string(), dest, options, {});
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->files_busy, 1u) << "the file being sent by the other redrive";
  EXPECT_EQ(second->files_done, 3u);
  dest.Open();
  a.join();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->files_busy, 0u);

  const auto sent = dest.sent();
  EXPECT_EQ(sent.size(), ids.size());
  for (const auto& [id, n] : sent)
    EXPECT_EQ(n, 1) << id << " sent " << n << " times";
  const fs::path kind = root / "pipe" / "opensearch-failed";
  EXPECT_EQ(FilesUnder(kind / "redriven", ".ndjson").size(), 4u);
  EXPECT_TRUE(FilesUnder(kind / "redriving", ".ndjson").empty());
}

TEST(RedriveTest, ConcurrentRedrivesSendEveryDocumentExactlyOnce) {
  testing::TempDir dir;
  const fs::path root = dir.Sub("backup");
  const auto ids = WriteBackups(root, 24, 20);
  CountingDestination dest;
  RedriveOptions options;
  options.batch_documents = 7;  // several Deliver calls per file
  std::vector<std::thread> redrives;
  std::atomic<int> failures{0};
  for (int i = 0; i < 4; ++i) {
    redrives.emplace_back([&] {
      auto r = RedriveBackups(root.string(), dest, options, {});
      if (!r.ok()) {
        ++failures;
        ADD_FAILURE() << r.status().ToString();
      }
    });
  }
  for (auto& t : redrives)
    t.join();
  EXPECT_EQ(failures.load(), 0);
  const auto sent = dest.sent();
  EXPECT_EQ(sent.size(), ids.size());
  for (const auto& [id, n] : sent)
    EXPECT_EQ(n, 1) << id << " sent " << n << " times";
  const fs::path kind = root / "pipe" / "opensearch-failed";
  EXPECT_EQ(FilesUnder(kind / "redriven", ".ndjson").size(), 24u);
}

TEST(RedriveTest, AFileLeftInRedrivingByADeadRedriveIsTakenUp) {
  testing::TempDir dir;
  const fs::path root = dir.Sub("backup");
  const auto ids = WriteBackups(root, 1, 5);
  const fs::path kind = root / "pipe" / "opensearch-failed";
  fs::create_directories(kind / "redriving");
  for (const fs::path& f : FilesUnder(kind, ".ndjson"))
    fs::rename(f, kind / "redriving" / f.filename());
  CountingDestination dest;
  auto r = RedriveBackups(root.string(), dest, {}, {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->files_busy, 0u);
  EXPECT_EQ(dest.sent().size(), ids.size());
}

}  // namespace
}  // namespace tideline::pipeline
