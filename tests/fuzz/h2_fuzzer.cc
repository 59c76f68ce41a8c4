// The HTTP/2 connection (server/src/h2_connection.h) fed arbitrary client bytes after the
// connection preface, in random-sized reads, with the session's other events interleaved:
// output written (or left unwritten), requests answered (plain, error, large, streamed), streamed
// bodies written and ended, time moving on and deadlines applied.
//
// Checked: each piece of output is bounded; the connection never holds more streams than the
// concurrent-stream limit and its handler limit allow; nothing is read while a full piece of
// output is unwritten; and once the connection is gone every byte it reserved from the
// in-flight budget is back.
//
// Input layout (FuzzedDataProvider): the choices come from the end of the input, the client's
// bytes from the front, so the seeds are plain HTTP/2 frames.
#include <fuzzer/FuzzedDataProvider.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "api.h"
#include "errors.h"
#include "fuzz_check.h"
#include "h2_connection.h"

namespace {

using namespace tideline::server;
namespace http = boost::beast::http;

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

class FuzzBodyStream : public BodyStream {
 public:
  void Start(std::shared_ptr<BodySink> s) override { sink = std::move(s); }
  void Cancel() override { sink.reset(); }
  std::shared_ptr<BodySink> sink;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider fdp(data, size);
  ServerOptions options;
  options.max_body_bytes = 256u << 10;
  options.max_inflight_bytes = 1u << 20;
  auto limits = std::make_shared<Limits>(4, 1, options.max_inflight_bytes);
  auto now = H2Config::Clock::time_point() + std::chrono::hours(1);
  std::deque<int32_t> pending;  // requests waiting for an answer
  std::vector<std::function<void()>> posted;
  std::vector<std::shared_ptr<FuzzBodyStream>> producers;

  H2Config config;
  config.options = &options;
  config.limits = limits;
  config.slot = fdp.ConsumeBool() ? ConnectionGate::Slot::kFull : ConnectionGate::Slot::kOverflow;
  config.classify = [](http::verb method, std::string_view target, std::string_view amz_target) {
    if (method == http::verb::get && target == "/health")
      return RouteClass{OperationKind::kOther, true};
    return RouteClass{KindOfTarget(amz_target), false};
  };
  config.on_request = [&pending](int32_t id, RouterRequest request) {
    FUZZ_CHECK(request.body != nullptr);
    FUZZ_CHECK(request.headers != nullptr);
    (void)request.headers->count(http::field::host);
    pending.push_back(id);
  };
  config.post = [&posted](std::function<void()> task) { posted.push_back(std::move(task)); };
  config.now = [&now] { return now; };
  auto conn = std::make_unique<H2Connection>(std::move(config));
  conn->Receive(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(kPreface.data()), kPreface.size()));

  bool unwritten = false;  // a piece of output was handed out and not written
  size_t unwritten_size = 0;
  while (fdp.remaining_bytes() > 0) {
    switch (fdp.ConsumeIntegralInRange<int>(0, 9)) {
      case 0:
      case 1:
      case 2:
      case 3: {
        const std::vector<uint8_t> bytes =
            fdp.ConsumeBytes<uint8_t>(fdp.ConsumeIntegralInRange<size_t>(1, 4096));
        if (bytes.empty()) break;
        // The session reads only while the connection wants to.
        if (conn->WantsRead()) conn->Receive(bytes);
        break;
      }
      case 4: {
        if (unwritten) {
          conn->OutputWritten();
          unwritten = false;
        }
        const std::string_view out = conn->Output();
        FUZZ_CHECK(out.size() <= H2Connection::kOutputHighWater + (1u << 14) + 9);
        if (!out.empty()) {
          unwritten = true;
          unwritten_size = out.size();
        }
        break;
      }
      case 5: {
        if (pending.empty()) break;
        const int32_t id = pending.front();
        pending.pop_front();
        ApiResponse r;
        switch (fdp.ConsumeIntegralInRange<int>(0, 3)) {
          case 0:
            r = MakeError(ApiErrorType::kValidation, "no");
            break;
          case 1:
            r.body.assign(fdp.ConsumeIntegralInRange<size_t>(0, 200000), 'r');
            break;
          case 2: {
            auto producer = std::make_shared<FuzzBodyStream>();
            producers.push_back(producer);
            r.stream = producer;
            break;
          }
          default:
            break;
        }
        conn->Respond(id, std::move(r));
        break;
      }
      case 6: {
        if (producers.empty()) break;
        auto& producer = producers[fdp.ConsumeIntegralInRange<size_t>(0, producers.size() - 1)];
        if (!producer->sink) break;
        if (fdp.ConsumeBool()) {
          producer->sink->Write(std::string(fdp.ConsumeIntegralInRange<size_t>(0, 40000), 'e'),
                                [] {});
        } else {
          producer->sink->End();
        }
        break;
      }
      case 7: {
        auto tasks = std::move(posted);
        posted.clear();
        for (auto& t : tasks)
          t();
        break;
      }
      case 8:
        now += std::chrono::seconds(fdp.ConsumeIntegralInRange<int>(0, 70));
        conn->CheckDeadlines();
        break;
      default:
        break;
    }
    // Open streams (the limit) plus those whose handler still runs after a reset in the same
    // read (bounded by the control-frame budget), never more.
    FUZZ_CHECK(conn->streams() <= 4 * H2Connection::kMaxConcurrentStreams);
    if (unwritten && unwritten_size >= H2Connection::kOutputHighWater) {
      FUZZ_CHECK(!conn->WantsRead());
    }
    if (conn->Finished()) break;
  }
  conn->Shutdown();
  // Answers that arrive after the end are dropped.
  for (const int32_t id : pending)
    conn->Respond(id, ApiResponse{});
  posted.clear();  // the sinks' tasks point at the connection
  conn.reset();
  FUZZ_CHECK(limits->budget.used() == 0);
  return 0;
}
