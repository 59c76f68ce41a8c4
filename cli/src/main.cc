// The `tideline` binary.
#include <curl/curl.h>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"tideline: a self-hosted, Kinesis-compatible durable stream store"};
  tideline::cli::Invocation invocation;
  tideline::cli::RegisterCommands(app, invocation);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : tideline::cli::kExitUsage;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const int rc = tideline::cli::RunInvocation(invocation);
  curl_global_cleanup();
  return rc;
}
