// What a subprocess transformer gets from tideline (only stdin/stdout/stderr, a minimal
// environment, never the OpenSearch password) and that it never outlives its parent.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "pipeline/processor.h"
#include "test_util/temp_dir.h"
#include "test_util/time_factor.h"

namespace tideline::pipeline {
namespace {

namespace fs = std::filesystem;

const std::string kTools = TIDELINE_LAMBDA_TOOLS_DIR;
const std::string kPython =
    ::access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";

std::unique_ptr<RecordBatch> MakeBatch() {
  auto batch = std::make_unique<RecordBatch>(StreamName("orders"), ShardId("shardId-000000000000"),
                                             ShardUid(7));
  batch->Add(Offset(1), 1'700'000'000'000, "key", "hello");
  return batch;
}

LambdaOptions ReportOptions(const fs::path& report) {
  LambdaOptions o;
  o.command = {kPython, kTools + "/report_environment.py"};
  o.pipeline_name = "clicks";
  o.retries = 0;
  o.timeout = std::chrono::seconds(30);
  o.environment = {{"REPORT_FILE", report.string()}, {"TRANSFORM_MODE", "test"}};
  return o;
}

// Polls for a state change with an overall limit (the child reports by writing a file).
template <typename F>
bool PollUntil(F done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + tideline::testing::Scaled(limit);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

rapidjson::Document ReadReport(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document d;
  d.Parse(text.str().c_str());
  EXPECT_FALSE(d.HasParseError()) << text.str();
  return d;
}

TEST(LambdaSubprocessTest, GetsOnlyStdioAndAMinimalEnvironmentWithoutThePassword) {
  testing::TempDir dir;
  fs::create_directories(dir.path());
  const fs::path report = dir.Sub("report.json");
  ASSERT_EQ(::setenv("TIDELINE_OPENSEARCH_PASSWORD", "s3cret-password", 1), 0);
  ASSERT_EQ(::setenv("TIDELINE_TEST_UNRELATED", "not-for-the-child", 1), 0);
  ASSERT_EQ(::setenv("TIDELINE_TEST_INHERITED", "passed", 1), 0);
  // Descriptors opened without close-on-exec, as another module or library might.
  const int file = ::open("/dev/null", O_RDONLY);
  const int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(file, 0);
  ASSERT_GE(sock, 0);

  LambdaOptions o = ReportOptions(report);
  o.inherit_environment = {"TIDELINE_TEST_INHERITED"};
  auto processor = MakeLambdaProcessor(o);
  ASSERT_TRUE(processor.ok()) << processor.status().ToString();
  auto batch = MakeBatch();
  (*processor)->Process(*batch);
  EXPECT_EQ(batch->records()[0].result, RecordResult::kOk) << batch->records()[0].error_message;

  const rapidjson::Document d = ReadReport(report);
  std::set<int> fds;
  for (const auto& fd : d["fds"].GetArray())
    fds.insert(fd[0].GetInt());
  EXPECT_EQ(fds, (std::set<int>{0, 1, 2})) << "the transformer inherited descriptors";
  const auto& env = d["env"];
  EXPECT_TRUE(env.HasMember("PATH"));
  EXPECT_STREQ(env["TRANSFORM_MODE"].GetString(), "test");
  EXPECT_STREQ(env["TIDELINE_TEST_INHERITED"].GetString(), "passed");
  EXPECT_FALSE(env.HasMember("TIDELINE_OPENSEARCH_PASSWORD"));
  EXPECT_FALSE(env.HasMember("TIDELINE_TEST_UNRELATED"));
  for (const auto& var : env.GetObject()) {
    EXPECT_EQ(std::string(var.value.GetString()).find("s3cret-password"), std::string::npos)
        << var.name.GetString();
  }

  // Stopping the processor (as Pipeline::Stop does) ends and reaps the child.
  const pid_t child = d["pid"].GetInt();
  EXPECT_EQ(::kill(child, 0), 0);
  (*processor)->Shutdown();
  EXPECT_EQ(::kill(child, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  ::close(file);
  ::close(sock);
  ::unsetenv("TIDELINE_OPENSEARCH_PASSWORD");
}

TEST(LambdaSubprocessTest, PassingTheOpenSearchPasswordOnIsRefused) {
  LambdaOptions o = ReportOptions("/nonexistent");
  o.inherit_environment = {"TIDELINE_OPENSEARCH_PASSWORD"};
  auto processor = MakeLambdaProcessor(o);
  ASSERT_FALSE(processor.ok());
  EXPECT_EQ(processor.status().code(), StatusCode::kInvalidArgument);
}

TEST(LambdaSubprocessTest, DiesWhenTheProcessThatStartedItIsKilled) {
  testing::TempDir dir;
  fs::create_directories(dir.path());
  const fs::path report = dir.Sub("report.json");
  // Orphans of our children come to us, so we can reap the transformer and see how it ended.
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const pid_t server = ::fork();
  ASSERT_GE(server, 0);
  if (server == 0) {
    // Stands in for tideline: starts a transformer that never answers, and waits for it.
    LambdaOptions o = ReportOptions(report);
    o.command.push_back("--hang");
    o.timeout = std::chrono::minutes(10);
    auto processor = MakeLambdaProcessor(o);
    if (!processor.ok()) ::_exit(2);
    auto batch = MakeBatch();
    (*processor)->Process(*batch);
    ::_exit(3);
  }
  ASSERT_TRUE(PollUntil([&] { return fs::exists(report); })) << "the transformer did not start";
  const pid_t transformer = ReadReport(report)["pid"].GetInt();
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(server, &status, 0), server);
  ASSERT_TRUE(WIFSIGNALED(status));

  // The transformer ignores stdin's EOF; only PR_SET_PDEATHSIG ends it.
  pid_t reaped = 0;
  const bool ended = PollUntil([&] {
    reaped = ::waitpid(transformer, &status, WNOHANG);
    return reaped == transformer;
  });
  if (!ended) {
    ::kill(transformer, SIGKILL);
    ::waitpid(transformer, &status, 0);
  }
  ASSERT_TRUE(ended) << "the transformer outlived the process that started it";
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

}  // namespace
}  // namespace tideline::pipeline
