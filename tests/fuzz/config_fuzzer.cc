// cli/include/cli/config.h: the YAML configuration file. Not network input, but operators
// paste it together and a bad file must be an error naming file and line, never a crash (an
// uncaught exception aborts the run here, as it would abort `tideline serve`).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cli/config.h"
#include "fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tideline;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Result<cli::Config> config = cli::ParseConfig(text, "fuzz.yaml");
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == StatusCode::kInvalidArgument);
    FUZZ_CHECK(config.status().message().starts_with("fuzz.yaml:"));
    return 0;
  }
  // A configuration that parsed is one the server and the store accept as they are.
  FUZZ_CHECK(server::ValidateServerOptions(config->server).ok());
  FUZZ_CHECK(storage::ValidateStoreOptions(config->storage).ok());
  FUZZ_CHECK(cli::ParseListenAddress(cli::FormatListenAddress(config->server)).has_value());
  return 0;
}
