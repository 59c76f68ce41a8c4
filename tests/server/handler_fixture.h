// A real Store in a temporary directory (testing::TestStore) plus a HandlerContext on the
// store's manual clock, and
// helpers to call handlers and inspect their responses.
#pragma once

#include <atomic>
#include <future>
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "api_types.h"
#include "handlers.h"
#include "storage/store.h"
#include "test_util/test_store.h"

namespace tideline::server {

inline constexpr int64_t kStartMs = 1'700'000'000'123;

class HandlerTest : public ::testing::Test {
 protected:
  HandlerTest() { clock_.SetNowMs(kStartMs); }

  void SetUp() override { OpenStore(); }

  // (Re)opens the store on the same data directory with these hooks and limits.
  void OpenStore(std::function<Status()> write_fault = {}, size_t max_queued_append_bytes = 0) {
    ctx_.store = nullptr;
    store_.options().shard_limit = 20;
    // Streams are ACTIVE at once, as consumers are (ctx_.status_delay 0); the status tests set
    // status_delay_ and move clock_.
    store_.options().status_delay = status_delay_;
    store_.options().max_queued_append_bytes =
        max_queued_append_bytes != 0 ? max_queued_append_bytes
                                     : storage::StoreOptions{}.max_queued_append_bytes;
    store_.hooks().write_fault = std::move(write_fault);
    const Status s = store_.Open();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ctx_.store = store_.get();
    ctx_.now_ms = [this] { return clock_.NowMs(); };
  }

  using Sync = ApiResponse (*)(const HandlerContext&, std::string_view);
  using Async = void (*)(const HandlerContext&, std::shared_ptr<std::string>, ResponseCallback,
                         const RespondOn&);

  ApiResponse Call(Sync fn, const std::string& body) { return fn(ctx_, body); }

  ApiResponse Call(Async fn, const std::string& body) {
    auto promise = std::make_shared<std::promise<ApiResponse>>();
    auto future = promise->get_future();
    fn(ctx_, std::make_shared<std::string>(body),
       [promise](ApiResponse r) { promise->set_value(std::move(r)); }, {});
    return future.get();
  }

  static rapidjson::Document Json(const ApiResponse& r) {
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    EXPECT_FALSE(d.HasParseError()) << r.body;
    return d;
  }

  // Asserts an error response: exact __type and HTTP status, message starting with `prefix`.
  static void ExpectError(const ApiResponse& r, const std::string& type, unsigned status,
                          const std::string& prefix) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.error_type, type) << r.body;
    rapidjson::Document d = Json(r);
    ASSERT_TRUE(d.IsObject());
    ASSERT_TRUE(d.HasMember("__type") && d["__type"].IsString()) << r.body;
    EXPECT_EQ(std::string(d["__type"].GetString()), type);
    // Coral spells it "Message" in a SerializationException, "message" elsewhere.
    const char* key = type == "SerializationException" ? "Message" : "message";
    ASSERT_TRUE(d.HasMember(key) && d[key].IsString()) << r.body;
    const std::string message = d[key].GetString();
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  }

  void CreateStream(const std::string& name, int shards) {
    const ApiResponse r =
        Call(&HandleCreateStream,
             "{\"StreamName\":\"" + name + "\",\"ShardCount\":" + std::to_string(shards) + "}");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  // StoreOptions::status_delay of the next OpenStore.
  std::chrono::milliseconds status_delay_{0};
  testing::TestStore store_{testing::StoreKind::kRocksDb, "tideline-server-test"};
  testing::ManualClock& clock_ = store_.clock();
  HandlerContext ctx_;
};

}  // namespace tideline::server
