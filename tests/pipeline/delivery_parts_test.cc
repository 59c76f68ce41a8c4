// The delivery side's parts on their own: rotating files, the file destination, the backup
// records and the buffer.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "backup/backup_writer.h"
#include "common/base64.h"
#include "core/flush_buffer.h"
#include "file/rotating_file.h"
#include "pipeline/destination.h"
#include "test_util/temp_dir.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> FilesIn(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

TEST(RotatingFileTest, RotatesBySizeAndKeepsEveryLine) {
  testing::TempDir dir;
  RotatingFile::Options o;
  o.dir = dir.Sub("out");
  o.prefix = "p";
  o.rotate_bytes = 100;
  auto file = RotatingFile::Open(o);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        (*file)->Append("line-" + std::to_string(i) + "-" + std::string(40, 'x') + "\n").ok());
    ASSERT_TRUE((*file)->Sync().ok());
  }
  const auto files = FilesIn(o.dir);
  EXPECT_EQ(files.size(), 4u);  // 3 lines of 48 bytes pass 100 bytes: 3 + 3 + 3 + 1
  std::string all;
  for (const auto& f : files) {
    EXPECT_TRUE(f.filename().string().starts_with("p-")) << f;
    EXPECT_EQ(f.extension(), ".ndjson");
    all += ReadFile(f);
  }
  EXPECT_EQ(Lines(all).size(), 10u);
}

TEST(RotatingFileTest, OpenCutsATornLastLineLeftByACrash) {
  testing::TempDir dir;
  const fs::path d = dir.Sub("out");
  fs::create_directories(d);
  {
    std::ofstream(d / "p-2026-01-01-00-00-00-0.ndjson") << "{\"a\":1}\n{\"b\":2}\n{\"c\":";
    std::ofstream(d / "p-2026-01-01-00-00-01-0.ndjson") << "no newline at all";
    std::ofstream(d / "other.txt") << "not ours";
  }
  RotatingFile::Options o;
  o.dir = d;
  o.prefix = "p";
  ASSERT_TRUE(RotatingFile::Open(o).ok());
  EXPECT_EQ(ReadFile(d / "p-2026-01-01-00-00-00-0.ndjson"), "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(ReadFile(d / "p-2026-01-01-00-00-01-0.ndjson"), "");
  EXPECT_EQ(ReadFile(d / "other.txt"), "not ours");
}

TEST(RotatingFileTest, FailsClearlyWhenTheDirectoryCannotBeCreated) {
  testing::TempDir dir;
  std::ofstream(dir.Sub("blocker")) << "a file where a directory should be";
  RotatingFile::Options o;
  o.dir = fs::path(dir.Sub("blocker")) / "out";
  o.prefix = "p";
  auto file = RotatingFile::Open(o);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), StatusCode::kIOError);
  EXPECT_NE(file.status().message().find("blocker"), std::string::npos);
}

Document Doc(std::string_view id, std::string_view body) {
  Document d;
  d.id = id;
  d.body = body;
  d.stream = "logs";
  d.shard = "shardId-000000000000";
  d.sequence_number = "1000000000000000000000000000000000000001";
  d.arrival_ms = 1'700'000'000'123;
  return d;
}

TEST(FileDestinationTest, WritesOneLinePerDocumentWithMetadataAndRefusesNonObjects) {
  testing::TempDir dir;
  FileDestinationOptions o;
  o.path = dir.Sub("out");
  auto dest = MakeFileDestination(o, "pipe");
  ASSERT_TRUE(dest.ok()) << dest.status().ToString();
  const Document docs[] = {Doc("a", " {\"x\": 1}\n"), Doc("b", "plain text"), Doc("c", "[1]"),
                           Doc("d", "{\"y\":\"z\"}"), Doc("e", "{\"x\":1} {}")};
  std::vector<DeliveryResult> results(std::size(docs));
  ASSERT_TRUE((*dest)->Deliver(docs, results, {}).ok());
  EXPECT_TRUE(results[0].delivered);
  EXPECT_FALSE(results[1].delivered);
  EXPECT_EQ(results[1].error_code, "InvalidDocument");
  EXPECT_FALSE(results[2].delivered);
  EXPECT_TRUE(results[3].delivered);
  EXPECT_FALSE(results[4].delivered);

  const auto files = FilesIn(fs::path(o.path) / "pipe");
  ASSERT_EQ(files.size(), 1u);
  const auto lines = Lines(ReadFile(files[0]));
  ASSERT_EQ(lines.size(), 2u);
  rapidjson::Document first;
  first.Parse(lines[0].c_str());
  ASSERT_FALSE(first.HasParseError()) << lines[0];
  EXPECT_STREQ(first["id"].GetString(), "a");
  EXPECT_STREQ(first["stream"].GetString(), "logs");
  EXPECT_STREQ(first["shard"].GetString(), "shardId-000000000000");
  EXPECT_EQ(first["approximateArrivalTimestamp"].GetInt64(), 1'700'000'000'123);
  EXPECT_EQ(first["document"]["x"].GetInt(), 1);
  EXPECT_EQ((*dest)->description(), "file:" + (fs::path(o.path) / "pipe").string());
}

TEST(BackupWriterTest, WritesFirehoseProcessingFailedAndFailedDocumentRecords) {
  testing::TempDir dir;
  BackupOptions o;
  o.path = dir.Sub("backup");
  auto backup = BackupWriter::Open(o, "pipe", "file");
  ASSERT_TRUE(backup.ok()) << backup.status().ToString();

  RecordBatch batch(StreamName("logs"), ShardId("shardId-000000000002"), ShardUid(3));
  PipelineRecord& r = batch.Add(Offset(9), 1'700'000'000'000, "pk", "raw \xff bytes");
  RecordBatch::Fail(r, "AccessLog.ParseFailed", "no timestamp");
  (*backup)->AddProcessingFailed(batch, r, 1'700'000'000'500);
  DeliveryResult failed;
  failed.error_code = "InvalidDocument";
  failed.error_message = "the document is not a JSON object";
  failed.target = "idx";
  (*backup)->AddFailedDocument(Doc("doc-1", "text"), failed, 1'700'000'000'600);
  EXPECT_EQ((*backup)->pending(), 2u);
  ASSERT_TRUE((*backup)->Commit().ok());
  EXPECT_EQ((*backup)->pending(), 0u);

  const fs::path root = fs::path(o.path) / "pipe";
  auto pf = FilesIn(root / "processing-failed");
  ASSERT_EQ(pf.size(), 1u);
  rapidjson::Document line;
  line.Parse(Lines(ReadFile(pf[0])).at(0).c_str());
  ASSERT_FALSE(line.HasParseError());
  EXPECT_EQ(line["attemptsMade"].GetInt(), 1);
  EXPECT_EQ(line["arrivalTimestamp"].GetInt64(), 1'700'000'000'000);
  EXPECT_STREQ(line["errorCode"].GetString(), "AccessLog.ParseFailed");
  EXPECT_STREQ(line["errorMessage"].GetString(), "no timestamp");
  EXPECT_EQ(line["attemptEndingTimestamp"].GetInt64(), 1'700'000'000'500);
  EXPECT_EQ(Base64Decode(line["rawData"].GetString()), std::string("raw \xff bytes"));
  EXPECT_STREQ(line["kinesisRecordMetadata"]["shardId"].GetString(), "shardId-000000000002");
  EXPECT_STREQ(line["kinesisRecordMetadata"]["partitionKey"].GetString(), "pk");
  EXPECT_EQ(line["kinesisRecordMetadata"]["sequenceNumber"].GetString(),
            batch.SequenceNumberOf(r).get());

  auto df = FilesIn(root / "file-failed");
  ASSERT_EQ(df.size(), 1u);
  line.Parse(Lines(ReadFile(df[0])).at(0).c_str());
  ASSERT_FALSE(line.HasParseError());
  EXPECT_STREQ(line["errorCode"].GetString(), "InvalidDocument");
  EXPECT_STREQ(line["esDocumentId"].GetString(), "doc-1");
  EXPECT_STREQ(line["esIndexName"].GetString(), "idx");
  EXPECT_EQ(Base64Decode(line["rawData"].GetString()), std::string("text"));
}

std::unique_ptr<RecordBatch> BatchOf(int records, size_t bytes_each) {
  auto b =
      std::make_unique<RecordBatch>(StreamName("s"), ShardId("shardId-000000000000"), ShardUid(1));
  const std::string data(bytes_each, 'x');
  for (int i = 0; i < records; ++i)
    b->Add(Offset(i + 1), 0, "k", data);
  return b;
}

TEST(FlushBufferTest, FlushesAtTheSizeHintWithoutWaitingForTheInterval) {
  FlushBuffer buffer(1000, std::chrono::hours(1), 1u << 30);
  std::stop_source stop;
  ASSERT_TRUE(buffer.Push(BatchOf(5, 100), stop.get_token()));
  ASSERT_TRUE(buffer.Push(BatchOf(5, 100), stop.get_token()));  // 1000 data bytes
  auto taken = buffer.Take(stop.get_token());
  EXPECT_EQ(taken.size(), 2u);
  EXPECT_EQ(buffer.stats().records, 0u);
}

TEST(FlushBufferTest, ZeroIntervalFlushesWhateverIsBuffered) {
  FlushBuffer buffer(1u << 20, std::chrono::milliseconds(0), 1u << 30);
  std::stop_source stop;
  ASSERT_TRUE(buffer.Push(BatchOf(1, 10), stop.get_token()));
  EXPECT_EQ(buffer.Take(stop.get_token()).size(), 1u);
}

// Returns once a Push is waiting for room in `buffer` (fails the test after 10 s).
void WaitUntilBlocked(const FlushBuffer& buffer) {
  const auto deadline =
      std::chrono::steady_clock::now() + tideline::testing::Scaled(std::chrono::seconds(10));
  while (buffer.stats().blocked_pushes == 0) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "Push never waited for room";
    std::this_thread::yield();
  }
}

TEST(FlushBufferTest, PushBlocksWhileFullAndStopReleasesIt) {
  FlushBuffer buffer(1u << 30, std::chrono::hours(1), 1);  // any batch fills it
  std::stop_source stop;
  ASSERT_TRUE(buffer.Push(BatchOf(1, 10), stop.get_token()));  // an empty buffer takes one
  std::atomic<int> result{-1};
  std::thread producer([&] { result = buffer.Push(BatchOf(1, 10), stop.get_token()) ? 1 : 0; });
  WaitUntilBlocked(buffer);
  EXPECT_EQ(result.load(), -1);  // still inside Push
  stop.request_stop();
  producer.join();
  EXPECT_EQ(result.load(), 0);
  EXPECT_EQ(buffer.stats().records, 1u);
}

TEST(FlushBufferTest, MemoryInFlightHoldsReadersBackUntilFlushDone) {
  FlushBuffer buffer(1, std::chrono::hours(1), 1);
  std::stop_source stop;
  ASSERT_TRUE(buffer.Push(BatchOf(1, 10), stop.get_token()));
  auto taken = buffer.Take(stop.get_token());
  ASSERT_EQ(taken.size(), 1u);
  std::atomic<bool> pushed{false};
  std::thread producer([&] { pushed = buffer.Push(BatchOf(1, 10), stop.get_token()); });
  // The taken batch's memory still counts: the producer waits inside Push until FlushDone.
  WaitUntilBlocked(buffer);
  EXPECT_FALSE(pushed.load());
  buffer.FlushDone();
  producer.join();
  EXPECT_TRUE(pushed.load());
}

}  // namespace
}  // namespace tideline::pipeline
