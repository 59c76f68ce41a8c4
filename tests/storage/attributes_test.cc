// Stream attributes (tags, mode, encryption, monitoring, policies, consumers): stored with the
// stream, changed atomically, durable, gone with the stream; on every Store implementation.
#include <gtest/gtest.h>

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
  return a;
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
  EXPECT_EQ(*got, StreamAttributes{});
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
  ASSERT_TRUE(this->store_->CreateStream(s, 1).ok());
  this->ReopenIfDurable();
  auto got = this->store_->GetStreamAttributes(s);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, StreamAttributes{});
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
