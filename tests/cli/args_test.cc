#include <gtest/gtest.h>

#include "cli/commands.h"

namespace tideline::cli {
namespace {

// Parses a `tideline` command line into an Invocation; CLI11 errors propagate as exceptions.
Invocation Parse(std::vector<std::string> args) {
  CLI::App app;
  Invocation inv;
  RegisterCommands(app, inv);
  args.insert(args.begin(), "tideline");
  std::vector<const char*> argv;
  for (const auto& a : args)
    argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return inv;
}

TEST(GetArgs, ParsesPositionShardLimitAndFormat) {
  const Invocation inv = Parse({"get", "logs", "--shard", "shardId-000000000001", "--at-seq",
                                "1000", "--limit", "5", "--format", "json"});
  EXPECT_EQ(inv.command, Command::kGet);
  EXPECT_EQ(inv.get.stream, "logs");
  EXPECT_EQ(inv.get.shard, "shardId-000000000001");
  EXPECT_EQ(inv.get.at_seq, "1000");
  EXPECT_EQ(inv.get.limit, 5u);
  EXPECT_EQ(inv.get.format, GetFormat::kJson);
  EXPECT_FALSE(inv.get.follow);
  EXPECT_FALSE(inv.get.trim_horizon);
}

TEST(GetArgs, RequiresExactlyOneStartingPosition) {
  EXPECT_THROW(Parse({"get", "logs"}), CLI::ParseError);
  EXPECT_THROW(Parse({"get", "logs", "--latest", "--trim-horizon"}), CLI::ParseError);
  EXPECT_THROW(Parse({"get", "logs", "--at-seq", "1", "--after-seq", "2"}), CLI::ParseError);
  EXPECT_TRUE(Parse({"get", "logs", "--trim-horizon", "--follow"}).get.follow);
}

TEST(GetArgs, RejectsUnknownFormatAndMissingStream) {
  EXPECT_THROW(Parse({"get", "logs", "--latest", "--format", "xml"}), CLI::ParseError);
  EXPECT_THROW(Parse({"get", "--latest"}), CLI::ParseError);
}

TEST(GetArgs, ValidationNamesTheFlag) {
  GetArgs a;
  a.stream = "s";
  a.trim_horizon = true;
  EXPECT_TRUE(ValidateGetArgs(a).ok());
  a.limit = 0;
  EXPECT_EQ(ValidateGetArgs(a).message().rfind("--limit:", 0), 0u);
  a.limit.reset();
  a.at_timestamp = "yesterday";
  EXPECT_EQ(ValidateGetArgs(a).message().rfind("--at-timestamp:", 0), 0u);
  a.at_timestamp.reset();
  for (const char* bad : {"", "12a", "-1", "0012"}) {
    a.at_seq = bad;
    EXPECT_EQ(ValidateGetArgs(a).message().rfind("--at-seq:", 0), 0u) << bad;
  }
}

TEST(ParseTimestampMs, AcceptsEpochSecondsAndIsoUtc) {
  EXPECT_EQ(ParseTimestampMs("1700000000"), 1700000000000);
  EXPECT_EQ(ParseTimestampMs("1700000000.25"), 1700000000250);
  EXPECT_EQ(ParseTimestampMs("2023-11-14T22:13:20Z"), ParseTimestampMs("1700000000"));
  EXPECT_EQ(ParseTimestampMs("2023-11-14T22:13:20.5Z"), ParseTimestampMs("1700000000.5"));
  EXPECT_EQ(ParseTimestampMs("2023-11-14T22:13:20+00:00"), ParseTimestampMs("1700000000"));
  for (const char* bad : {"", "now", "1.2.3", "2023-11-14", "2023-13-14T22:13:20Z",
                          "2023-11-14 22:13:20Z", "2023-11-14T22:13:20.Z"}) {
    EXPECT_FALSE(ParseTimestampMs(bad).has_value()) << bad;
  }
}

TEST(PutArgs, ParsesFilesPartitionKeyAndProgress) {
  Invocation inv = Parse({"put", "logs", "a.log", "b.log", "-k", "user-1", "--no-progress",
                          "--endpoint", "http://h:1"});
  EXPECT_EQ(inv.command, Command::kPut);
  EXPECT_EQ(inv.put.stream, "logs");
  EXPECT_EQ(inv.put.files, (std::vector<std::string>{"a.log", "b.log"}));
  EXPECT_EQ(inv.put.partition_key, "user-1");
  EXPECT_EQ(inv.put.progress, false);
  EXPECT_EQ(inv.put.endpoint, "http://h:1");

  inv = Parse({"put", "logs"});
  EXPECT_TRUE(inv.put.files.empty());
  EXPECT_FALSE(inv.put.partition_key.has_value());
  EXPECT_FALSE(inv.put.progress.has_value());
  EXPECT_EQ(inv.put.endpoint, kDefaultEndpoint);
}

TEST(StreamArgs, CreateChecksShardsAndRetentionRanges) {
  const Invocation inv =
      Parse({"stream", "create", "logs", "--shards", "4", "--retention-hours", "48"});
  EXPECT_EQ(inv.command, Command::kStreamCreate);
  EXPECT_EQ(inv.stream.name, "logs");
  EXPECT_EQ(inv.stream.shards, 4);
  EXPECT_EQ(inv.stream.retention_hours, 48);
  EXPECT_THROW(Parse({"stream", "create", "logs", "--shards", "0"}), CLI::ParseError);
  EXPECT_THROW(Parse({"stream", "create", "logs", "--retention-hours", "23"}), CLI::ParseError);
  EXPECT_THROW(Parse({"stream"}), CLI::ParseError);
  EXPECT_EQ(Parse({"stream", "list"}).command, Command::kStreamList);
}

TEST(ServeArgs, FlagsBecomeOverrides) {
  const Invocation inv = Parse({"serve", "--config", "t.yaml", "--data-dir", "d", "--listen",
                                "0.0.0.0:1", "--durability", "none"});
  EXPECT_EQ(inv.command, Command::kServe);
  EXPECT_EQ(inv.serve.config_path, "t.yaml");
  EXPECT_EQ(inv.serve.overrides.data_dir, "d");
  EXPECT_EQ(inv.serve.overrides.listen, "0.0.0.0:1");
  EXPECT_EQ(inv.serve.overrides.durability, "none");
  EXPECT_FALSE(inv.serve.overrides.log_level.has_value());
}

TEST(PipelineArgs, ResetTakesExactlyOnePositionOfTheStoresVocabulary) {
  EXPECT_TRUE(Parse({"pipeline", "reset", "web", "--latest"}).pipeline.latest);
  EXPECT_EQ(Parse({"pipeline", "reset", "web", "--after-seq", "7"}).pipeline.after_seq, "7");
  EXPECT_EQ(Parse({"pipeline", "reset", "web", "--at-seq", "7"}).pipeline.at_seq, "7");
  EXPECT_THROW(Parse({"pipeline", "reset", "web"}), CLI::ParseError);
  EXPECT_THROW(Parse({"pipeline", "reset", "web", "--latest", "--trim-horizon"}), CLI::ParseError);
}

TEST(Commands, RequireASubcommand) {
  EXPECT_THROW(Parse({}), CLI::ParseError);
  EXPECT_THROW(Parse({"frobnicate"}), CLI::ParseError);
}

}  // namespace
}  // namespace tideline::cli
