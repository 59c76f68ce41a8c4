// `tideline backup list|redrive`: the pipelines' backup files, read and redriven directly (no
// server needed; a running pipeline may keep appending meanwhile, see pipeline/backup.h).
#include <unistd.h>

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <map>
#include <thread>

#include "cli/commands.h"
#include "cli_util.h"
#include "pipeline/backup.h"
#include "pipeline/destination.h"

namespace tideline::cli {
namespace {

// The OpenSearch settings of a redrive: from a pipeline in a config file, or from the flags.
Result<pipeline::OpenSearchDestinationOptions> RedriveDestination(const BackupArgs& a) {
  pipeline::OpenSearchDestinationOptions o;
  if (!a.config_path.empty()) {
    auto config = LoadConfigFile(a.config_path);
    if (!config.ok()) return config.status();
    const pipeline::PipelineOptions* found = nullptr;
    for (const auto& p : config->pipelines) {
      if (p.name == a.pipeline || (a.pipeline.empty() && config->pipelines.size() == 1)) {
        found = &p;
      }
    }
    if (found == nullptr) {
      return Status::InvalidArgument(
          a.pipeline.empty() ? "--pipeline: " + a.config_path + " has several pipelines; name one"
                             : "--pipeline: no pipeline " + a.pipeline + " in " + a.config_path);
    }
    const auto* os =
        std::get_if<pipeline::OpenSearchDestinationOptions>(&found->destination.options);
    if (os == nullptr) {
      return Status::InvalidArgument("pipeline " + found->name + " does not deliver to opensearch");
    }
    o = *os;
  }
  if (!a.urls.empty()) o.urls = a.urls;
  if (o.urls.empty())
    return Status::InvalidArgument("give --url URL or --config FILE --pipeline NAME");
  if (!a.username.empty()) o.username = a.username;
  if (!a.password.empty()) o.password = a.password;
  PasswordFromEnvironment(o);
  if (!a.ca_file.empty()) o.ca_file = a.ca_file;
  if (a.insecure) o.tls_insecure = true;
  if (a.gzip) o.gzip = true;
  if (a.retry_duration_s) o.retry_duration_s = *a.retry_duration_s;
  // Backed-up documents carry their own index and id; the index here only fills in for lines
  // that have none.
  if (o.index.empty()) o.index = "redrive";
  o.document_id = pipeline::DocumentIdMode::kStable;
  return o;
}

// SIGINT/SIGTERM stop the redrive between requests. They are taken by a thread of their own
// (sigwait), since requesting a stop wakes waiters, which is not async-signal-safe.
class SignalStopper {
 public:
  explicit SignalStopper(std::stop_source stop) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this, stop]() mutable {
      int sig = 0;
      if (sigwait(&set_, &sig) == 0 && sig != SIGUSR1) stop.request_stop();
    });
  }
  ~SignalStopper() {
    pthread_kill(thread_.native_handle(), SIGUSR1);  // ends the wait if no signal came
    thread_.join();
    pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
  }

 private:
  sigset_t set_;
  std::thread thread_;
};

}  // namespace

int RunBackupList(const BackupArgs& args) {
  const std::string root = args.path.empty() ? "./backup" : args.path;
  auto files = pipeline::ListBackupFiles(root);
  if (!files.ok()) return Fail(files.status(), kExitFailure);
  if (files->empty()) {
    std::printf("no backup files under %s\n", root.c_str());
    return 0;
  }
  std::printf("%-10s %-18s %9s %10s  %-30s %s\n", "STATE", "KIND", "LINES", "SIZE", "ERRORS",
              "FILE");
  std::map<std::string, uint64_t> pending;
  for (const auto& f : *files) {
    std::string errors;
    for (size_t i = 0; i < f.error_codes.size() && i < 3; ++i) {
      errors +=
          (i ? " " : "") + f.error_codes[i].first + ":" + std::to_string(f.error_codes[i].second);
    }
    if (f.error_codes.size() > 3) errors += " ...";
    std::printf("%-10s %-18s %9llu %10s  %-30s %s\n", f.state.c_str(), f.kind.c_str(),
                static_cast<unsigned long long>(f.lines), FormatBytes(f.bytes).c_str(),
                errors.c_str(), f.path.c_str());
    if (f.state != "redriven") pending[f.kind] += f.lines;
  }
  for (const auto& [kind, lines] : pending) {
    std::printf("%s: %llu lines not redriven\n", kind.c_str(),
                static_cast<unsigned long long>(lines));
  }
  return 0;
}

int RunBackupRedrive(const BackupArgs& args) {
  auto options = RedriveDestination(args);
  if (!options.ok()) return Fail(options.status(), kExitUsage);
  auto destination = pipeline::MakeOpenSearchDestination(*options);
  if (!destination.ok()) return Fail(destination.status(), kExitUsage);

  std::stop_source stop;
  SignalStopper signals(stop);
  const bool show = args.progress.value_or(isatty(STDERR_FILENO) == 1);
  pipeline::RedriveOptions ro;
  if (show) {
    ro.progress = [](const pipeline::RedriveProgress& p) {
      std::fprintf(stderr, "\r%llu/%llu files, %s/%s, %llu delivered, %llu failed again   ",
                   static_cast<unsigned long long>(p.files_done),
                   static_cast<unsigned long long>(p.files_total),
                   FormatBytes(p.bytes_done).c_str(), FormatBytes(p.bytes_total).c_str(),
                   static_cast<unsigned long long>(p.documents_delivered),
                   static_cast<unsigned long long>(p.documents_failed));
    };
  }
  auto result = pipeline::RedriveBackups(args.path, **destination, ro, stop.get_token());
  if (show) std::fprintf(stderr, "\n");
  if (!result.ok()) {
    if (stop.stop_requested()) {
      std::fprintf(stderr,
                   "tideline: redrive interrupted; the file being sent stays in redriving/ and "
                   "is taken up first next time\n");
      return kExitFailure;
    }
    return Fail(result.status(), kExitFailure);
  }
  std::printf("redrove %llu files: %llu documents delivered, %llu failed again%s\n",
              static_cast<unsigned long long>(result->files_done),
              static_cast<unsigned long long>(result->documents_delivered),
              static_cast<unsigned long long>(result->documents_failed),
              result->documents_failed > 0 ? " (written to redrive-failed-*.ndjson)" : "");
  if (result->files_skipped > 0) {
    std::printf("skipped %llu processing-failed files: they hold source records, not documents\n",
                static_cast<unsigned long long>(result->files_skipped));
  }
  return result->documents_failed > 0 ? kExitFailure : 0;
}

}  // namespace tideline::cli
