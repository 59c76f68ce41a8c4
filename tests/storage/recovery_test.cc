// Opening, locking, sticky write failures (on every Store) and recovery after reopen and after
// SIGKILL of a real process (RocksDB).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "storage/sequence_number.h"
#include "store_fixture.h"

namespace tideline::storage {

// Child side of CrashRecovery: appends forever, printing every acknowledged sequence number
// to stdout (the pipe) after its callback ran, until killed.
int RunCrashChild(const char* data_dir) {
  StoreOptions options;
  options.data_dir = data_dir;
  auto store = Store::Open(options);
  if (!store.ok()) return 3;
  if (!(*store)->CreateStream(StreamName("crash"), 2).ok()) return 4;
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i)
    keys.push_back("key-" + std::to_string(i));
  std::vector<AppendRecord> records;
  for (const auto& k : keys)
    records.push_back({k, "", k});
  for (;;) {
    auto r = (*store)->Append(StreamName("crash"), records);
    if (!r.ok()) return 5;
    for (const auto& a : *r)
      std::printf("%s\n", a.sequence_number.get().c_str());
    std::fflush(stdout);
  }
}

namespace {

TEST_F(StoreTest, SecondOpenOfSameDirectoryFailsClearly) {
  StoreOptions other = options_;
  auto second = Store::Open(other);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kResourceInUse);
  EXPECT_NE(second.status().message().find("is already in use by another tideline process"),
            std::string::npos)
      << second.status().message();
  EXPECT_NE(second.status().message().find(options_.data_dir.string()), std::string::npos);
}

TEST_F(StoreTest, BadOptionsFailOpen) {
  store_.Close();
  StoreOptions bad = options_;
  bad.records_cf_options_override = "no_such_option=1";
  EXPECT_EQ(Store::Open(bad).status().code(), StatusCode::kInvalidArgument);
  bad = options_;
  bad.max_group_commit_bytes = 0;
  EXPECT_EQ(Store::Open(bad).status().code(), StatusCode::kInvalidArgument);
}

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

TYPED_TEST(StoreContract, FailedWriteIsStickyAndReportedByHealth) {
  std::atomic<bool> fail{false};
  this->hooks_.write_fault = [&fail]() {
    return fail.load() ? Status::IOError("injected fsync failure") : Status::Ok();
  };
  this->Reopen();
  ASSERT_TRUE(this->store_->CreateStream(StreamName("s"), 1).ok());
  this->Put("s", {"a"});
  EXPECT_TRUE(this->store_->Health().ok());
  fail = true;
  std::vector<AppendRecord> one{{"b", "", "b"}};
  auto r = this->store_->Append(StreamName("s"), one);
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  fail = false;  // the disk "recovers", but the store must not trust it
  r = this->store_->Append(StreamName("s"), one);
  EXPECT_EQ(r.status().code(), StatusCode::kIOError);
  EXPECT_NE(r.status().message().find("injected fsync failure"), std::string::npos);
  EXPECT_EQ(this->store_->Health().code(), StatusCode::kIOError);
  // Readers still see exactly the acknowledged record.
  EXPECT_EQ(this->ReadAll("s", kShard0.get()).size(), 1u);
}

TEST_F(StoreTest, ReopenAfterAFailedWriteAcceptsAppendsWithDenseOffsets) {
  std::atomic<bool> fail{false};
  hooks_.write_fault = [&fail]() {
    return fail.load() ? Status::IOError("injected fsync failure") : Status::Ok();
  };
  Reopen();
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());
  Put("s", {"a"});
  fail = true;
  std::vector<AppendRecord> one{{"b", "", "b"}};
  EXPECT_EQ(store_->Append(StreamName("s"), one).status().code(), StatusCode::kIOError);
  fail = false;
  Reopen();
  EXPECT_TRUE(store_->Health().ok());
  EXPECT_EQ(Put("s", {"c"}).size(), 1u);
  auto records = ReadAll("s", kShard0.get());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].first, 2u) << "offsets stay dense after a failed write";
}

TEST_F(StoreTest, ReopenKeepsRecordsAndContinuesOffsets) {
  ASSERT_TRUE(store_->CreateStream(StreamName("s"), 1).ok());
  Put("s", {"a", "b"});
  Reopen();
  auto info = store_->DescribeStream(StreamName("s"));
  EXPECT_EQ(info->shards[0].last_offset.get(), 2u);
  auto acked = Put("s", {"c"});
  EXPECT_EQ(DecodeSequenceNumber(acked[0].sequence_number.get())->offset, 3u);
  EXPECT_EQ(ReadAll("s", kShard0.get()).size(), 3u);
}

TEST(CrashRecovery, SigkillDuringAppendsLosesNoAcknowledgedRecord) {
  testing::TempDir dir;
  const std::string data = dir.Sub("data").string();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    setenv("TIDELINE_CRASH_CHILD_DIR", data.c_str(), 1);
    execl("/proc/self/exe", "storage_tests", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  // Read acknowledgements until enough arrived, then kill mid-stream.
  std::vector<std::string> acked;
  std::string buffer;
  char chunk[4096];
  while (acked.size() < 3000) {
    const ssize_t n = read(fds[0], chunk, sizeof(chunk));
    if (n <= 0) break;
    buffer.append(chunk, static_cast<size_t>(n));
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      acked.push_back(buffer.substr(0, nl));
      buffer.erase(0, nl + 1);
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  close(fds[0]);
  ASSERT_GE(acked.size(), 3000u) << "child exited early";
  ASSERT_TRUE(WIFSIGNALED(status));

  StoreOptions options;
  options.data_dir = data;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto info = (*store)->DescribeStream(StreamName("crash"));
  ASSERT_TRUE(info.ok());
  std::set<std::string> stored;
  for (const auto& shard : info->shards) {
    uint64_t expect = 1;
    Offset next(1);
    for (;;) {
      auto r = (*store)->Read(StreamName("crash"), shard.id, next, ReadLimits{},
                              [&](const RecordView& v) {
                                EXPECT_EQ(v.offset.get(), expect++) << "gap after recovery";
                                stored.insert(SequenceNumberOf(shard.uid, v.offset).get());
                              });
      ASSERT_TRUE(r.ok());
      if (r->records == 0) break;
      next = r->next;
    }
  }
  for (const auto& seq : acked)
    ASSERT_EQ(stored.count(seq), 1u) << "acked record lost: " << seq;
}

}  // namespace
}  // namespace tideline::storage
