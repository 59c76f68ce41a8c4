// Stream attributes (tags, mode, encryption, monitoring, policies, consumers): stored with the
// stream, changed atomically, durable, gone with the stream; on every Store implementation.
#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "store_fixture.h"

namespace tideline::storage {
namespace {

TYPED_TEST_SUITE(StoreContract, StoreImpls, StoreImplNames);

StreamAttributes Sample() {
  StreamAttributes a;
  a.tags = {{"team", "web"}, {"env", "prod"}};
  a.mode = StreamMode::kOnDemand;
  a.mode_changed_ms = 42;
  a.encryption_type = "KMS";
  a.kms_key_id = "alias/aws/kinesis";
  a.shard_level_metrics = {"IncomingBytes", "OutgoingRecords"};
  a.policy = R"({"Version":"2012-10-17"})";
  a.consumers = {StreamConsumer{"c1", 1000, 0, "", {{"owner", "search"}}},
                 StreamConsumer{"c2", 2000, 3000, "{}", {}}};
  a.stream_id = "abcdefghij0123456789-xyz";
  a.max_record_size_kib = 10240;
  a.warm_throughput_mibps = 0;  // set to zero is not unset
  return a;
}

// The attributes without the stream id the store made, to compare with defaults.
StreamAttributes WithoutId(StreamAttributes a) {
  a.stream_id.clear();
  return a;
}

bool IsStreamId(const std::string& id) {
  return std::regex_match(id, std::regex("[a-z0-9]{20}-[a-z0-9]{3}"));
}

TYPED_TEST(StoreContract, AttributesAreCreatedWithTheStreamAndSurviveReopen) {
  const StreamName s("attrs");
  ASSERT_TRUE(this->store_->CreateStream(s, 1, Sample()).ok());
  this->ReopenIfDurable();
  auto got = this->store_->GetStreamAttributes(s);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Sample());
}

TYPED_TEST(StoreContract, StreamsCreatedWithoutAttributesHaveTheDefaults) {
  const StreamName s("plain");
  ASSERT_TRUE(this->store_->CreateStream(s, 1).ok());
  auto got = this->store_->GetStreamAttributes(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(WithoutId(*got), StreamAttributes{});
  EXPECT_TRUE(IsStreamId(got->stream_id)) << got->stream_id;
  EXPECT_EQ(got->max_record_size_kib, 1024u);
  EXPECT_FALSE(got->warm_throughput_mibps.has_value());
  EXPECT_EQ(got->encryption_type, "NONE");
  EXPECT_EQ(got->mode, StreamMode::kProvisioned);
  EXPECT_EQ(this->store_->GetStreamAttributes(StreamName("missing")).status().code(),
            StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, UpdatesAreDurableAndAFailedUpdateChangesNothing) {
  const StreamName s("upd");
  ASSERT_TRUE(this->store_->CreateStream(s, 1).ok());
  ASSERT_TRUE(this->store_
                  ->UpdateStreamAttributes(s,
                                           [](StreamAttributes& a) {
                                             a.tags["k"] = "v";
                                             a.consumers.push_back({"c", 5, 0, "", {}});
                                             return Status::Ok();
                                           })
                  .ok());
  const Status refused = this->store_->UpdateStreamAttributes(s, [](StreamAttributes& a) {
    a.tags.clear();  // must not stick: the update fails
    return Status::LimitExceeded("too many");
  });
  EXPECT_EQ(refused.code(), StatusCode::kLimitExceeded);
  this->ReopenIfDurable();
  auto got = this->store_->GetStreamAttributes(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tags, (std::map<std::string, std::string>{{"k", "v"}}));
  ASSERT_EQ(got->consumers.size(), 1u);
  EXPECT_EQ(got->consumers[0].name, "c");
  EXPECT_EQ(this->store_
                ->UpdateStreamAttributes(StreamName("missing"),
                                         [](StreamAttributes&) { return Status::Ok(); })
                .code(),
            StatusCode::kNotFound);
}

TYPED_TEST(StoreContract, AttributesGoWithTheStreamAndARecreatedStreamStartsClean) {
  const StreamName s("recreated");
  ASSERT_TRUE(this->store_->CreateStream(s, 1, Sample()).ok());
  ASSERT_TRUE(this->store_->DeleteStream(s).ok());
  EXPECT_EQ(this->store_->GetStreamAttributes(s).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(this->store_->UpdateStreamAttributes(s, [](StreamAttributes&) { return Status::Ok(); })
                .code(),
            StatusCode::kNotFound);
  const std::string old_id = Sample().stream_id;
  ASSERT_TRUE(this->store_->CreateStream(s, 1).ok());
  this->ReopenIfDurable();
  auto got = this->store_->GetStreamAttributes(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(WithoutId(*got), StreamAttributes{});
  EXPECT_NE(got->stream_id, old_id);
}

TYPED_TEST(StoreContract, EveryStreamGetsItsOwnStreamIdWhichSurvivesReopenAndUpdates) {
  std::vector<std::string> ids;
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(this->store_->CreateStream(StreamName(name), 1).ok());
    ids.push_back(this->store_->GetStreamAttributes(StreamName(name))->stream_id);
    EXPECT_TRUE(IsStreamId(ids.back())) << ids.back();
  }
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 3u);
  ASSERT_TRUE(this->store_
                  ->UpdateStreamAttributes(StreamName("b"),
                                           [](StreamAttributes& a) {
                                             a.max_record_size_kib = 2048;
                                             a.warm_throughput_mibps = 100;
                                             return Status::Ok();
                                           })
                  .ok());
  this->ReopenIfDurable();
  auto b = this->store_->GetStreamAttributes(StreamName("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->stream_id, ids[1]);
  EXPECT_EQ(b->max_record_size_kib, 2048u);
  EXPECT_EQ(b->warm_throughput_mibps, std::optional<uint32_t>(100));
  EXPECT_EQ(this->store_->GetStreamAttributes(StreamName("a"))->stream_id, ids[0]);
}

TYPED_TEST(StoreContract, AccountSettingsStartAtTheDefaultsAndUpdatesAreDurable) {
  EXPECT_EQ(this->store_->GetAccountSettings(), AccountSettings{});
  AccountSettings want;
  want.commitment_enabled = true;
  want.commitment_started_ms = 1000;
  want.commitment_earliest_end_ms = 2000;
  want.commitment_disable_pending = true;
  want.commitment_ended_ms = 500;
  ASSERT_TRUE(this->store_
                  ->UpdateAccountSettings([&](AccountSettings& a) {
                    a = want;
                    return Status::Ok();
                  })
                  .ok());
  const Status refused = this->store_->UpdateAccountSettings([](AccountSettings& a) {
    a.commitment_enabled = false;  // must not stick: the update fails
    return Status::InvalidArgument("no");
  });
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  this->ReopenIfDurable();
  EXPECT_EQ(this->store_->GetAccountSettings(), want);
}

// Read-modify-write is serialised: concurrent increments of one tag lose none.
TYPED_TEST(StoreContract, ConcurrentUpdatesAreSerialised) {
  const StreamName s("counter");
  ASSERT_TRUE(this->store_->CreateStream(s, 1).ok());
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        const Status st = this->store_->UpdateStreamAttributes(s, [](StreamAttributes& a) {
          const int n = a.tags.count("n") ? std::stoi(a.tags["n"]) : 0;
          a.tags["n"] = std::to_string(n + 1);
          return Status::Ok();
        });
        EXPECT_TRUE(st.ok()) << st.ToString();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  auto got = this->store_->GetStreamAttributes(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->tags.at("n"), std::to_string(kThreads * kEach));
}

}  // namespace
}  // namespace tideline::storage
