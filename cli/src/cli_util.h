// Helpers shared by the CLI's command implementations (private to cli/).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "common/json_write.h"
#include "common/status.h"

namespace tideline::cli {

// The "cli" logger, writing to stderr.
std::shared_ptr<spdlog::logger> Logger();

// Prints "tideline: <message>" to stderr and returns `exit_code`.
int Fail(const Status& status, int exit_code);

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

using json::WriteString;

// Member accessors that tolerate absent or mistyped members.
std::string GetString(const rapidjson::Value& obj, const char* key);
int64_t GetInt64(const rapidjson::Value& obj, const char* key, int64_t fallback = 0);
double GetDouble(const rapidjson::Value& obj, const char* key, double fallback = 0);
bool GetBool(const rapidjson::Value& obj, const char* key, bool fallback = false);

// "2024-01-02T03:04:05.123Z"
std::string FormatUtcMs(int64_t ms);

// "3.4 MiB"
std::string FormatBytes(uint64_t bytes);

}  // namespace tideline::cli
