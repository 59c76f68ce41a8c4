// A Router over the handler fixture's store, with an optional SigV4 authenticator: requests go
// through Router::Dispatch as the HTTP session sends them, signed when asked, and the blocking
// handlers run on the test's thread.
#pragma once

#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/fields.hpp>

#include "auth/authenticator.h"
#include "auth/sigv4.h"
#include "handler_fixture.h"
#include "router.h"

namespace tideline::server {

inline constexpr std::string_view kKinesisPrefix = "Kinesis_20131202.";

class RouterFixture : public HandlerTest {
 protected:
  // An append's answer comes back on the store's writer thread, which still holds the Api's
  // in-flight count a moment after the test has its answer: wait for it before the Api goes.
  void TearDown() override {
    if (api_) {
      EXPECT_TRUE(api_->WaitIdle(std::chrono::seconds(30)));
    }
    HandlerTest::TearDown();
  }

  // Builds the Api and the Router; `authenticator` null serves with auth mode none.
  void StartRouter(std::unique_ptr<auth::Authenticator> authenticator) {
    authenticator_ = std::move(authenticator);
    api_ = std::make_unique<Api>(ctx_, metrics_, [this](std::function<void()> task) {
      blocking_.push_back(std::move(task));
    });
    Router::Context rc{api_.get(),
                       &metrics_,
                       store_.get(),
                       &pipelines_,
                       &limits_,
                       [this](std::function<void()> task) { blocking_.push_back(std::move(task)); },
                       authenticator_.get(),
                       [] { return kStartMs; }};
    router_ = std::make_unique<Router>(std::move(rc));
  }

  // Dispatches a request, signed with `creds` for `region` unless `creds` is null, and runs
  // what it queued for the blocking pool. The request's region field is set to a value Dispatch
  // must replace with the one it reads from the request.
  ApiResponse Send(const auth::Credentials* creds, std::string_view region,
                   boost::beast::http::verb method, std::string target, std::string amz_target,
                   std::string content_type, std::string body) {
    namespace http = boost::beast::http;
    http::fields fields;
    fields.set(http::field::host, "127.0.0.1:4567");
    if (!amz_target.empty()) fields.set("X-Amz-Target", amz_target);
    if (creds != nullptr) {
      std::vector<auth::Header> headers;
      for (const auto& f : fields) {
        headers.push_back({std::string_view(f.name_string().data(), f.name_string().size()),
                           std::string_view(f.value().data(), f.value().size())});
      }
      const std::string verb(http::to_string(method));
      auth::SignRequest req{verb, target, headers, body, {}, region, "kinesis", kStartMs / 1000};
      for (const auto& [k, v] : auth::SignHeaders(req, *creds))
        fields.set(k, v);
    }
    auto answer = std::make_shared<std::promise<ApiResponse>>();
    auto future = answer->get_future();
    RouterRequest r{method, target, amz_target, content_type, std::make_shared<std::string>(body),
                    &fields};
    r.region = "ignored-by-dispatch";
    router_->Dispatch(
        std::move(r), [answer](ApiResponse resp) { answer->set_value(std::move(resp)); },
        [](std::function<void()> task) { task(); });
    while (!blocking_.empty()) {
      auto task = std::move(blocking_.front());
      blocking_.erase(blocking_.begin());
      task();
    }
    return future.get();
  }

  Metrics metrics_;
  Limits limits_{16, 2, 1u << 20};
  std::vector<pipeline::Pipeline*> pipelines_;
  std::vector<std::function<void()>> blocking_;
  std::unique_ptr<auth::Authenticator> authenticator_;
  std::unique_ptr<Api> api_;
  std::unique_ptr<Router> router_;
};

}  // namespace tideline::server
