// The server module's spdlog logger ("server").
#pragma once

#include <spdlog/spdlog.h>

namespace tideline::server {

// The "server" logger, created from the default logger on first use. Thread-safe.
spdlog::logger& Log();

}  // namespace tideline::server
