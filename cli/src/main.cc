// The `tideline` binary.
#include "cli/commands.h"
#include "common/curl.h"

int main(int argc, char** argv) {
  CLI::App app{"tideline: a self-hosted, Kinesis-compatible durable stream store"};
  tideline::cli::Invocation invocation;
  tideline::cli::RegisterCommands(app, invocation);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : tideline::cli::kExitUsage;
  }
  tideline::EnsureCurlGlobalInit();
  return tideline::cli::RunInvocation(invocation);
}
