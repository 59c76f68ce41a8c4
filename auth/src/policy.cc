#include "auth/policy.h"

namespace tideline::auth {
namespace {

char Fold(char c, bool ignore_case) {
  return ignore_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr std::string_view kStreamArnPrefix = "arn:aws:kinesis:";

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case) {
  size_t p = 0;
  size_t t = 0;
  size_t star = std::string_view::npos;
  size_t resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() &&
        (pattern[p] == '?' || Fold(pattern[p], ignore_case) == Fold(text[t], ignore_case))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

bool AllowsAction(const Principal& principal, std::string_view action) {
  for (const std::string& pattern : principal.allow) {
    if (GlobMatch(pattern, action, /*ignore_case=*/true)) return true;
  }
  return false;
}

bool AllowsResource(const Principal& principal, std::string_view resource_arn) {
  if (!resource_arn.starts_with(kStreamArnPrefix)) return true;
  const size_t slash = resource_arn.find(":stream/");
  const std::string_view name =
      slash == std::string_view::npos ? std::string_view() : resource_arn.substr(slash + 8);
  for (const std::string& pattern : principal.streams) {
    if (pattern.starts_with("arn:")) {
      if (GlobMatch(pattern, resource_arn, false)) return true;
    } else if (slash != std::string_view::npos && GlobMatch(pattern, name, false)) {
      return true;
    }
  }
  return false;
}

}  // namespace tideline::auth
