#include "opensearch/bulk_transport.h"

#include "common/curl.h"

#include <curl/curl.h>

#include <mutex>

namespace tideline::pipeline::opensearch {
namespace {

// A response larger than this is not a _bulk answer we can use (100 MiB of requests make ~40 MiB
// of items at most).
constexpr size_t kMaxResponseBytes = 256u << 20;
// How long a node that failed without answering is skipped while others are left.
constexpr std::chrono::seconds kNodeCooldown{5};
// How often a waiting Send looks at its stop token.
constexpr int kPollMs = 100;

struct Sink {
  std::string* body = nullptr;
  bool too_large = false;
};

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  if (sink->body->size() + size * n > kMaxResponseBytes) {
    sink->too_large = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(data, size * n);
  return size * n;
}

struct Node {
  std::string base;  // without a trailing slash
  std::chrono::steady_clock::time_point avoid_until{};
};

// One easy handle and what its current transfer needs to stay alive.
struct Transfer {
  CURL* curl = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  std::string url;
  Sink sink;
  size_t request = 0;  // index into the Send call's requests
  size_t node = 0;
  curl_slist* headers = nullptr;  // the options' headers (plain or gzip); not owned
};

}  // namespace

struct BulkTransport::Impl {
  OpenSearchDestinationOptions options;
  CURLM* multi = nullptr;
  std::vector<Node> nodes;
  size_t next_node = 0;
  curl_slist* plain_headers = nullptr;
  curl_slist* gzip_headers = nullptr;
  std::vector<std::unique_ptr<Transfer>> idle;

  ~Impl() {
    for (auto& t : idle)
      curl_easy_cleanup(t->curl);
    if (multi != nullptr) curl_multi_cleanup(multi);
    curl_slist_free_all(plain_headers);
    curl_slist_free_all(gzip_headers);
  }

  size_t PickNode() {
    const auto now = std::chrono::steady_clock::now();
    for (size_t k = 0; k < nodes.size(); ++k) {
      const size_t i = (next_node + k) % nodes.size();
      if (nodes[i].avoid_until <= now) {
        next_node = i + 1;
        return i;
      }
    }
    return next_node++ % nodes.size();  // all failing: keep rotating
  }

  std::unique_ptr<Transfer> TakeTransfer() {
    if (!idle.empty()) {
      auto t = std::move(idle.back());
      idle.pop_back();
      return t;
    }
    auto t = std::make_unique<Transfer>();
    t->curl = curl_easy_init();
    if (t->curl == nullptr) throw std::bad_alloc();
    CURL* c = t->curl;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &AppendBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    UseCloexecSockets(c);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10'000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options.request_timeout_s) * 1000);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // whatever libcurl can decode
    if (options.keep_alive_connections == 0) curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (!options.username.empty()) {
      curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
      curl_easy_setopt(c, CURLOPT_USERNAME, options.username.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, options.password.c_str());
    }
    if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
    if (options.tls_insecure) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    return t;
  }

  void Start(Transfer& t, const HttpRequest& req) {
    t.node = PickNode();
    t.url = nodes[t.node].base;
    t.url.append(req.path);
    t.error[0] = '\0';
    t.sink.too_large = false;
    CURL* c = t.curl;
    curl_easy_setopt(c, CURLOPT_URL, t.url.c_str());
    if (req.method == "GET") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    } else {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(c, CURLOPT_HTTPHEADER, req.gzip ? gzip_headers : plain_headers);
    }
    curl_multi_add_handle(multi, c);
  }

  void Finish(Transfer& t, CURLcode rc, HttpResponse& out) {
    long status = 0;
    curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
    out.node = nodes[t.node].base;
    if (rc == CURLE_OK) {
      out.status = static_cast<int>(status);
      nodes[t.node].avoid_until = {};  // it answers: not a dead node
      return;
    }
    out.status = 0;
    out.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
    if (t.sink.too_large) {
      out.error = "response larger than " + std::to_string(kMaxResponseBytes >> 20) + " MiB";
    } else {
      out.error = t.error[0] != '\0' ? t.error : curl_easy_strerror(rc);
    }
    nodes[t.node].avoid_until = std::chrono::steady_clock::now() + kNodeCooldown;
  }
};

BulkTransport::BulkTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BulkTransport::~BulkTransport() = default;

Result<std::unique_ptr<BulkTransport>> BulkTransport::Make(
    const OpenSearchDestinationOptions& options) {
  EnsureCurlGlobalInit();
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  for (const std::string& url : options.urls) {
    std::string base = url;
    while (!base.empty() && base.back() == '/')
      base.pop_back();
    impl->nodes.push_back({base, {}});
  }
  impl->multi = curl_multi_init();
  if (impl->multi == nullptr) return Status::Internal("curl_multi_init failed");
  curl_multi_setopt(impl->multi, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(std::max<uint32_t>(options.keep_alive_connections, 1)));
  for (curl_slist** list : {&impl->plain_headers, &impl->gzip_headers}) {
    *list = curl_slist_append(*list, "Content-Type: application/x-ndjson");
    *list = curl_slist_append(*list, "Expect:");  // no 100-continue round trip
  }
  impl->gzip_headers = curl_slist_append(impl->gzip_headers, "Content-Encoding: gzip");
  return std::unique_ptr<BulkTransport>(new BulkTransport(std::move(impl)));
}

void BulkTransport::Send(std::span<const HttpRequest> requests, std::span<HttpResponse> responses,
                         std::stop_token stop) {
  Impl& m = *impl_;
  const size_t concurrency = std::max<uint32_t>(m.options.concurrency, 1);
  std::vector<std::unique_ptr<Transfer>> running;
  size_t next = 0;
  auto start_more = [&] {
    while (next < requests.size() && running.size() < concurrency) {
      auto t = m.TakeTransfer();
      t->request = next;
      responses[next] = HttpResponse();
      t->sink.body = &responses[next].body;
      m.Start(*t, requests[next]);
      running.push_back(std::move(t));
      ++next;
    }
  };
  start_more();
  while (!running.empty()) {
    if (stop.stop_requested()) break;
    int still = 0;
    curl_multi_perform(m.multi, &still);
    int queued = 0;
    while (CURLMsg* msg = curl_multi_info_read(m.multi, &queued)) {
      if (msg->msg != CURLMSG_DONE) continue;
      for (size_t k = 0; k < running.size(); ++k) {
        if (running[k]->curl != msg->easy_handle) continue;
        std::unique_ptr<Transfer> t = std::move(running[k]);
        running.erase(running.begin() + static_cast<ptrdiff_t>(k));
        const CURLcode rc = msg->data.result;  // read before the handle is removed
        curl_multi_remove_handle(m.multi, t->curl);
        m.Finish(*t, rc, responses[t->request]);
        m.idle.push_back(std::move(t));
        break;
      }
    }
    start_more();
    if (!running.empty()) curl_multi_poll(m.multi, nullptr, 0, kPollMs, nullptr);
  }
  // Stopped: abandon what is in flight (the caller retries it after a restart).
  for (auto& t : running) {
    curl_multi_remove_handle(m.multi, t->curl);
    m.idle.push_back(std::move(t));
  }
}

}  // namespace tideline::pipeline::opensearch
