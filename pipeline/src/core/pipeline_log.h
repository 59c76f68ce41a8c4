// The pipeline module's logger ("pipeline", on stderr), shared by every file of pipeline/.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace tideline::pipeline {

std::shared_ptr<spdlog::logger> PipelineLogger();

}  // namespace tideline::pipeline
