// Hand-written matchers for the patterns of the Kinesis model (kinesis_model.h), with the
// semantics of Java's String.matches (the whole value must match). std::regex would be compiled
// per pattern and is slow on the ingest path; tests compare each matcher with the regex.
#pragma once

#include <string_view>

#include "kinesis_model.h"

namespace tideline::server::model {

// True when `value` matches `pattern`; kNone matches everything.
bool MatchesPattern(Pattern pattern, std::string_view value);

// Length as Java counts it (UTF-16 code units) of a valid UTF-8 string: the unit of the model's
// string length constraints.
size_t Utf16Length(std::string_view utf8);

}  // namespace tideline::server::model
