// Permission matching: IAM-style action patterns and stream patterns.
#pragma once

#include <string_view>

#include "auth/options.h"

namespace tideline::auth {

// Whole-string glob: `*` matches any run (also empty), `?` one character. Case-insensitive
// when `ignore_case`. Linear in practice (greedy with one backtrack point).
bool GlobMatch(std::string_view pattern, std::string_view text, bool ignore_case);

// Whether one of `principal.allow` matches `action` ("kinesis:PutRecord").
bool AllowsAction(const Principal& principal, std::string_view action);

// Whether `principal.streams` admits `resource_arn`. Resources that are not Kinesis streams
// ("arn:aws:tideline:...") are governed by the action alone and always pass. A name pattern
// matches the part after "stream/"; an "arn:" pattern matches the whole ARN.
bool AllowsResource(const Principal& principal, std::string_view resource_arn);

}  // namespace tideline::auth
