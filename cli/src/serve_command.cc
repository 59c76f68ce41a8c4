// `tideline serve`: the store and the API server in one process until SIGINT/SIGTERM. SIGHUP
// reloads the TLS certificate and key (server.tls); nothing else is reloaded.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>

#include <cstring>

#include "cli/commands.h"
#include "cli_util.h"
#include "pipeline/pipeline.h"
#include "server/server.h"
#include "storage/store.h"

namespace tideline::cli {
namespace {

Result<Config> ResolveConfig(const ServeArgs& args) {
  Config config;
  if (!args.config_path.empty()) {
    Result<Config> loaded = LoadConfigFile(args.config_path);
    if (!loaded.ok()) return loaded.status();
    config = std::move(loaded).value();
  }
  TL_RETURN_IF_ERROR(ApplyOverrides(args.overrides, config));
  return config;
}

// Waits for SIGINT or SIGTERM and returns it; reloads the TLS files on each SIGHUP meanwhile.
int WaitForStop(const sigset_t& signals, server::Server& server, bool tls) {
  auto log = Logger();
  while (true) {
    int signal_number = 0;
    if (sigwait(&signals, &signal_number) != 0) return SIGTERM;
    if (signal_number != SIGHUP) return signal_number;
    if (!tls) {
      log->info("received SIGHUP: nothing to reload (no server.tls)");
      continue;
    }
    const Status reloaded = server.ReloadTls();
    if (reloaded.ok()) {
      log->info("received SIGHUP: TLS certificate and key reloaded for new connections");
    } else {
      log->error("received SIGHUP: TLS reload failed, still serving the previous certificate: {}",
                 reloaded.message());
    }
  }
}

std::string HostForUrl(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

}  // namespace

int RunServe(const ServeArgs& args) {
  Result<Config> resolved = ResolveConfig(args);
  if (!resolved.ok()) return Fail(resolved.status(), kExitUsage);
  const Config& config = *resolved;

  spdlog::set_level(spdlog::level::from_str(config.logging.level));
  auto log = Logger();
  // `durability: none` is announced once, by the store as it opens.

  // GetRecords and PutRecords bodies are megabytes each. glibc's dynamic mmap threshold would
  // move such buffers into per-thread heap arenas that keep the memory after free, so peak RSS
  // grew with every concurrent replay; a fixed threshold maps them and returns them on free.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  // Below that size, freed memory stays with the process instead of being handed back after
  // every free of a request body or a flushed memtable's arena blocks: each page given back is
  // a page fault when it is touched again, and on a virtual machine a fault costs microseconds.
  mallopt(M_TRIM_THRESHOLD, 16 << 20);

  // Block the stop and reload signals before any thread starts, so that every thread inherits
  // the mask and only the sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<storage::Store>> opened = storage::Store::Open(config.storage);
  if (!opened.ok()) {
    return Fail(Status(opened.status().code(), "cannot open data directory " +
                                                   config.storage.data_dir.string() + ": " +
                                                   opened.status().message()),
                kExitFailure);
  }
  std::unique_ptr<storage::Store> store = std::move(opened).value();

  // Pipelines start before the API so that GET /pipelines sees them all; they wait for their
  // streams if those do not exist yet.
  std::vector<std::unique_ptr<pipeline::Pipeline>> pipelines;
  std::vector<pipeline::Pipeline*> pipeline_views;
  for (pipeline::PipelineOptions options : config.pipelines) {
    options.account = config.server.account;
    Result<std::unique_ptr<pipeline::Pipeline>> p = pipeline::Pipeline::Start(options, *store);
    if (!p.ok()) {
      pipelines.clear();
      return Fail(p.status(), kExitUsage);
    }
    pipeline_views.push_back(p->get());
    pipelines.push_back(std::move(*p));
  }

  const server::ServerOptions& server_options = config.server;
  Result<std::unique_ptr<server::Server>> started =
      server::Server::Start(server_options, *store, pipeline_views);
  if (!started.ok()) {
    return Fail(
        Status(started.status().code(), "cannot serve on " + FormatListenAddress(config.server) +
                                            ": " + started.status().message()),
        kExitFailure);
  }
  std::unique_ptr<server::Server> server = std::move(started).value();
  log->info("tideline listening on {}://{}:{} (data dir {}, durability {})",
            server_options.tls ? "https" : "http", HostForUrl(server_options.host), server->port(),
            config.storage.data_dir.string(), DurabilityName(config.storage.durability));

  const int signal_number = WaitForStop(signals, *server, server_options.tls.has_value());
  log->info("received {}, stopping", strsignal(signal_number));
  server->Stop();
  server.reset();
  for (auto& p : pipelines)
    p->Stop();
  pipelines.clear();
  store.reset();  // flushes and closes RocksDB
  log->info("stopped cleanly");
  return 0;
}

}  // namespace tideline::cli
