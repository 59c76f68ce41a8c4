#include "logging.h"

namespace tideline::server {

spdlog::logger& Log() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    if (auto existing = spdlog::get("server")) return existing;
    auto created = spdlog::default_logger()->clone("server");
    try {
      spdlog::register_logger(created);
    } catch (const spdlog::spdlog_ex&) {
      // Registered concurrently by another module: use that one.
      if (auto existing = spdlog::get("server")) return existing;
    }
    return created;
  }();
  return *logger;
}

}  // namespace tideline::server
