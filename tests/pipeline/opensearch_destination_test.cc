// The OpenSearch destination against a real server process that fails on purpose: the fake
// OpenSearch of tests/tools (OpenSearch's _bulk response shapes, with fault injection).
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pipeline/destination.h"
#include "test_util/temp_dir.h"
#include "test_util/time_factor.h"

extern char** environ;

namespace tideline::pipeline {
namespace {

const std::string kFake = TIDELINE_FAKE_OPENSEARCH;

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One fake OpenSearch process on a free port.
class FakeOpenSearch {
 public:
  explicit FakeOpenSearch(std::vector<std::string> extra = {}) {
    const std::string port_file = (dir_.path() / "port").string();
    std::vector<std::string> args = {"python3",     kFake,     "--port", "0",
                                     "--port-file", port_file, "--seed", "7"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "python3", nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start python3 " + kFake);
    }
    // Readiness: the fake writes its port file once it listens (bounded wait).
    const auto deadline =
        std::chrono::steady_clock::now() + tideline::testing::Scaled(std::chrono::seconds(20));
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(port_file);
      if (in >> port_) break;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) throw std::runtime_error("fake exited");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (port_ == 0) throw std::runtime_error("fake did not write its port");
  }
  ~FakeOpenSearch() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::string Call(const char* method, const std::string& path, const std::string& body = "") {
    CURL* c = curl_easy_init();
    std::string out;
    const std::string u = url() + path;
    curl_easy_setopt(c, CURLOPT_URL, u.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!body.empty()) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    const CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    EXPECT_EQ(rc, CURLE_OK) << method << " " << path;
    return out;
  }
  void Faults(const std::string& json) { Call("PUT", "/_fake/faults", json); }
  int64_t Stat(const char* group, const char* key) {
    rapidjson::Document d;
    const std::string s = Call("GET", "/_fake/stats");
    d.Parse(s.c_str());
    const rapidjson::Value& v = group == nullptr ? d : d[group];
    return v.HasMember(key) ? v[key].GetInt64() : 0;
  }
  // id -> writes, of every stored document.
  std::map<std::string, int> Docs() {
    std::map<std::string, int> out;
    std::istringstream lines(Call("GET", "/_fake/docs"));
    std::string line;
    while (std::getline(lines, line)) {
      rapidjson::Document d;
      d.Parse(line.c_str());
      out[d["_id"].GetString()] = d["writes"].GetInt();
    }
    return out;
  }

 private:
  testing::TempDir dir_{"fake-os"};
  pid_t pid_ = 0;
  int port_ = 0;
};

struct Batch {
  std::vector<std::string> ids, bodies;
  std::vector<Document> docs;
  std::vector<DeliveryResult> results;
  explicit Batch(int n, const std::string& poison_at = "") {
    for (int i = 0; i < n; ++i) {
      ids.push_back("s-" + std::to_string(i));
      const std::string path =
          std::to_string(i) == poison_at ? "poison" : "/p/" + std::to_string(i);
      bodies.push_back(R"({"n":)" + std::to_string(i) + R"(,"path":")" + path + "\"}");
    }
    docs.resize(n);
    for (int i = 0; i < n; ++i) {
      docs[i].id = ids[i];
      docs[i].body = bodies[i];
      docs[i].body_is_json_object = true;
      docs[i].arrival_ms = 1456405200000;
    }
    results.resize(n);
  }
  int delivered() const {
    int n = 0;
    for (const auto& r : results)
      n += r.delivered;
    return n;
  }
};

OpenSearchDestinationOptions Options(const std::string& url) {
  OpenSearchDestinationOptions o;
  o.urls = {url};
  o.index = "logs";
  o.rotation = IndexRotation::kNoRotation;
  o.retry_duration_s = 60;
  return o;
}

std::unique_ptr<Destination> Make(const OpenSearchDestinationOptions& o) {
  auto d = MakeOpenSearchDestination(o);
  EXPECT_TRUE(d.ok()) << d.status().ToString();
  return std::move(*d);
}

TEST(OpenSearchDestinationTest, IndexesEveryDocumentOnceUnderItsStableId) {
  FakeOpenSearch fake;
  auto dest = Make(Options(fake.url()));
  Batch b(300);
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 300);
  const auto docs = fake.Docs();
  ASSERT_EQ(docs.size(), 300u);
  for (const auto& [id, writes] : docs)
    EXPECT_EQ(writes, 1) << id;
  EXPECT_EQ(b.results[0].target, "logs");
  EXPECT_EQ(dest->counters().requests, 1u);
}

TEST(OpenSearchDestinationTest, RetriesRejectedItemsAloneUntilIndexed) {
  FakeOpenSearch fake;
  fake.Faults(R"({"item_429_rate":0.3})");
  auto dest = Make(Options(fake.url()));
  Batch b(200);
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 200);
  EXPECT_GT(fake.Stat("faults", "item_429"), 0);
  EXPECT_EQ(fake.Docs().size(), 200u);
  const DestinationCounters c = dest->counters();
  EXPECT_GT(c.documents_retried, 0u);
  // Only the rejected items were sent again: fewer items than 200 per round.
  EXPECT_LT(static_cast<uint64_t>(fake.Stat(nullptr, "bulk_items")), 200u * c.requests);
}

TEST(OpenSearchDestinationTest, LostAcknowledgementsAndRequestErrorsNeverDuplicate) {
  FakeOpenSearch fake;
  fake.Faults(R"({"lost_ack_rate":0.3,"request_503_rate":0.2,"drop_connection_rate":0.1})");
  auto dest = Make(Options(fake.url()));
  Batch b(500);
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 500);
  EXPECT_GT(fake.Stat("faults", "lost_ack"), 0);
  const auto docs = fake.Docs();
  EXPECT_EQ(docs.size(), 500u);
  for (const auto& [id, writes] : docs)
    EXPECT_EQ(writes, 1) << id << ": a create must never write a document twice";
  EXPECT_GT(dest->counters().request_failures, 0u);
}

TEST(OpenSearchDestinationTest, MappingErrorIsPermanentAndCarriesOpenSearchsError) {
  FakeOpenSearch fake;
  fake.Faults(R"({"mapping_error_value":"poison"})");
  auto dest = Make(Options(fake.url()));
  Batch b(50, "17");
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 49);
  const DeliveryResult& r = b.results[17];
  EXPECT_FALSE(r.delivered);
  EXPECT_EQ(r.error_code, "400");
  EXPECT_NE(r.error_message.find("mapper_parsing_exception"), std::string::npos);
  EXPECT_EQ(r.attempts, 1);
  EXPECT_EQ(r.target, "logs");
}

TEST(OpenSearchDestinationTest, TooLargeRequestsAreSplitUntilAccepted) {
  FakeOpenSearch fake;
  fake.Faults(R"({"max_body_bytes":3000})");
  auto dest = Make(Options(fake.url()));
  Batch b(100);
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 100);
  EXPECT_GT(fake.Stat("faults", "too_large"), 0);
  EXPECT_EQ(fake.Docs().size(), 100u);
  // The limit is remembered: the next flush is not refused again.
  const int64_t refused = fake.Stat("faults", "too_large");
  Batch again(100);
  for (auto& id : again.ids)
    id += "-b";
  for (size_t i = 0; i < again.docs.size(); ++i)
    again.docs[i].id = again.ids[i];
  ASSERT_TRUE(dest->Deliver(again.docs, again.results, {}).ok());
  EXPECT_EQ(again.delivered(), 100);
  EXPECT_EQ(fake.Stat("faults", "too_large"), refused);
}

TEST(OpenSearchDestinationTest, ClusterDownLongerThanRetryDurationFailsEveryDocument) {
  FakeOpenSearch fake;
  fake.Faults(R"({"down":true})");
  auto o = Options(fake.url());
  o.retry_duration_s = 1;
  auto dest = Make(o);
  Batch b(20);
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 0);
  for (const auto& r : b.results) {
    EXPECT_EQ(r.error_code, "OS.ConnectionFailed");
    EXPECT_GE(r.attempts, 2);
  }
  EXPECT_EQ(fake.Docs().size(), 0u);
}

TEST(OpenSearchDestinationTest, ReportsWhyItIsRetryingWhileItRetries) {
  FakeOpenSearch fake;
  fake.Faults(R"({"request_503_rate":1.0})");
  auto dest = Make(Options(fake.url()));  // retries for 60 s
  Batch b(5);
  std::stop_source stop;
  Status result;
  std::thread deliver([&] { result = dest->Deliver(b.docs, b.results, stop.get_token()); });
  std::string why;
  const auto deadline =
      std::chrono::steady_clock::now() + tideline::testing::Scaled(std::chrono::seconds(20));
  while ((why = dest->retrying()).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a condition
  stop.request_stop();
  deliver.join();
  EXPECT_NE(why.find("503"), std::string::npos) << why;
  EXPECT_FALSE(result.ok());
  EXPECT_TRUE(dest->retrying().empty());
}

TEST(OpenSearchDestinationTest, StopEndsDeliveryWithoutSettling) {
  FakeOpenSearch fake;
  fake.Faults(R"({"down":true})");
  auto dest = Make(Options(fake.url()));
  Batch b(5);
  std::stop_source stop;
  stop.request_stop();
  EXPECT_FALSE(dest->Deliver(b.docs, b.results, stop.get_token()).ok());
  EXPECT_EQ(b.delivered(), 0);
}

TEST(OpenSearchDestinationTest, GzipBodiesAndSecondNodeWhenTheFirstIsDown) {
  FakeOpenSearch fake;
  auto o = Options("http://127.0.0.1:1");  // nothing listens on port 1
  o.urls.push_back(fake.url());
  o.gzip = true;
  auto dest = Make(o);
  Batch b(100);
  ASSERT_TRUE(dest->Deliver(b.docs, b.results, {}).ok());
  EXPECT_EQ(b.delivered(), 100);
  EXPECT_GT(fake.Stat(nullptr, "gzip_requests"), 0);
  EXPECT_EQ(fake.Docs().size(), 100u);
}

TEST(OpenSearchDestinationTest, BasicAuthIsSentAndWrongCredentialsAreReported) {
  FakeOpenSearch fake({"--user", "admin", "--password", "s3cret"});
  auto o = Options(fake.url());
  o.username = "admin";
  o.password = "wrong";
  o.retry_duration_s = 1;
  Batch refused(3);
  ASSERT_TRUE(Make(o)->Deliver(refused.docs, refused.results, {}).ok());
  EXPECT_EQ(refused.delivered(), 0);
  EXPECT_EQ(refused.results[0].error_code, "401");
  o.password = "s3cret";
  Batch ok(3);
  ASSERT_TRUE(Make(o)->Deliver(ok.docs, ok.results, {}).ok());
  EXPECT_EQ(ok.delivered(), 3);
}

TEST(OpenSearchDestinationTest, HttpsVerifiesTheClusterCertificate) {
  testing::TempDir certs("fake-os-tls");
  const std::string key = (certs.path() / "key.pem").string();
  const std::string cert = (certs.path() / "cert.pem").string();
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
      "-addext subjectAltName=IP:127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl is needed to make a test certificate";
  FakeOpenSearch fake({"--tls-cert", cert, "--tls-key", key});
  const std::string url = "https://" + fake.url().substr(std::string("http://").size());

  auto o = Options(url);
  o.ca_file = cert;
  Batch trusted(10);
  ASSERT_TRUE(Make(o)->Deliver(trusted.docs, trusted.results, {}).ok());
  EXPECT_EQ(trusted.delivered(), 10);

  // Without the CA the certificate is refused; nothing is sent.
  o.ca_file.clear();
  o.retry_duration_s = 0;
  Batch untrusted(3);
  ASSERT_TRUE(Make(o)->Deliver(untrusted.docs, untrusted.results, {}).ok());
  EXPECT_EQ(untrusted.delivered(), 0);
  EXPECT_EQ(untrusted.results[0].error_code, "OS.ConnectionFailed");

  o.tls_insecure = true;
  Batch insecure(3);
  for (auto& id : insecure.ids)
    id += "-insecure";
  for (size_t i = 0; i < insecure.docs.size(); ++i)
    insecure.docs[i].id = insecure.ids[i];
  ASSERT_TRUE(Make(o)->Deliver(insecure.docs, insecure.results, {}).ok());
  EXPECT_EQ(insecure.delivered(), 3);
}

TEST(OpenSearchDestinationTest, InvalidOptionsAreRefusedAtConstruction) {
  auto o = Options("ftp://x");
  EXPECT_FALSE(MakeOpenSearchDestination(o).ok());
  o = Options("http://x");
  o.index = "Upper";
  EXPECT_FALSE(MakeOpenSearchDestination(o).ok());
}

}  // namespace
}  // namespace tideline::pipeline
