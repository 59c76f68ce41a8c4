#include "core/pipeline_log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace tideline::pipeline {

std::shared_ptr<spdlog::logger> PipelineLogger() {
  // Created once under a lock: concurrent first calls (processors of several readers) must not
  // both try to register the name.
  static std::mutex mu;
  static std::shared_ptr<spdlog::logger> logger;
  std::lock_guard<std::mutex> lock(mu);
  if (!logger) {
    logger = spdlog::get("pipeline");
    if (!logger) logger = spdlog::stderr_color_mt("pipeline");
  }
  return logger;
}

}  // namespace tideline::pipeline
