#include "cli_util.h"

#include "common/time_format.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <ctime>

namespace tideline::cli {

std::shared_ptr<spdlog::logger> Logger() {
  // spdlog's registry is thread-safe; the first caller creates the logger.
  if (auto existing = spdlog::get("cli")) return existing;
  try {
    return spdlog::stderr_color_mt("cli");
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get("cli");  // another thread registered it first
  }
}

int Fail(const Status& status, int exit_code) {
  std::fprintf(stderr, "tideline: %s\n", status.message().c_str());
  return exit_code;
}

std::string GetString(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return {};
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsString()) return {};
  return {it->value.GetString(), it->value.GetStringLength()};
}

int64_t GetInt64(const rapidjson::Value& obj, const char* key, int64_t fallback) {
  if (!obj.IsObject()) return fallback;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd()) return fallback;
  if (it->value.IsInt64()) return it->value.GetInt64();
  if (it->value.IsNumber()) return static_cast<int64_t>(it->value.GetDouble());
  return fallback;
}

double GetDouble(const rapidjson::Value& obj, const char* key, double fallback) {
  if (!obj.IsObject()) return fallback;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsNumber()) return fallback;
  return it->value.GetDouble();
}

bool GetBool(const rapidjson::Value& obj, const char* key, bool fallback) {
  if (!obj.IsObject()) return fallback;
  auto it = obj.FindMember(key);
  if (it == obj.MemberEnd() || !it->value.IsBool()) return fallback;
  return it->value.GetBool();
}

std::string FormatUtcMs(int64_t ms) {
  char buf[kIso8601MillisLength];
  if (!FormatIso8601Millis(ms, buf)) return std::to_string(ms);
  return std::string(buf, sizeof(buf));
}

std::string FormatBytes(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) {
    std::snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(bytes));
  } else if (bytes < (1u << 20)) {
    std::snprintf(buf, sizeof(buf), "%.1f KiB", bytes / 1024.0);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / (1024.0 * 1024.0));
  }
  return buf;
}

}  // namespace tideline::cli
