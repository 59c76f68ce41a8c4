// A real Store in a temporary directory plus a HandlerContext with an injectable clock, and
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
#include "test_util/manual_clock.h"
#include "test_util/temp_dir.h"

namespace tideline::server {

inline constexpr int64_t kStartMs = 1'700'000'000'123;

class HandlerTest : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  void OpenStore(std::function<Status()> write_fault = {}, size_t max_queued_append_bytes = 0) {
    store_.reset();
    storage::StoreOptions o;
    o.data_dir = dir_.Sub("store");
    o.shard_limit = 20;
    if (max_queued_append_bytes != 0) o.max_queued_append_bytes = max_queued_append_bytes;
    storage::StoreHooks hooks;
    hooks.clock = &clock_;
    hooks.write_fault = std::move(write_fault);
    auto s = storage::Store::Open(o, hooks);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    ctx_.store = store_.get();
    ctx_.now_ms = [this] { return clock_.NowMs(); };
  }

  using Sync = ApiResponse (*)(const HandlerContext&, std::string_view);
  using Async = void (*)(const HandlerContext&, std::shared_ptr<std::string>, ResponseCallback);

  ApiResponse Call(Sync fn, const std::string& body) { return fn(ctx_, body); }

  ApiResponse Call(Async fn, const std::string& body) {
    auto promise = std::make_shared<std::promise<ApiResponse>>();
    auto future = promise->get_future();
    fn(ctx_, std::make_shared<std::string>(body),
       [promise](ApiResponse r) { promise->set_value(std::move(r)); });
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
    ASSERT_TRUE(d.HasMember("message") && d["message"].IsString()) << r.body;
    const std::string message = d["message"].GetString();
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
  }

  void CreateStream(const std::string& name, int shards) {
    const ApiResponse r =
        Call(&HandleCreateStream,
             "{\"StreamName\":\"" + name + "\",\"ShardCount\":" + std::to_string(shards) + "}");
    ASSERT_EQ(r.status, 200u) << r.body;
  }

  testing::ManualClock clock_{kStartMs};
  testing::TempDir dir_{"tideline-server-test"};
  std::unique_ptr<storage::Store> store_;
  HandlerContext ctx_;
};

}  // namespace tideline::server
