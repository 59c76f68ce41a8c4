// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. Every string tideline accepts from outside, stores or sends in JSON obeys it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tideline {

// True when `s` is well-formed UTF-8. ASCII-only input is checked at memory speed.
bool IsValidUtf8(std::string_view s);
// Offset of the first ill-formed sequence in `s`; npos when there is none.
size_t InvalidUtf8Offset(std::string_view s);

// `s` with each ill-formed sequence (a bad lead byte and the stray continuation bytes after it)
// replaced by one U+FFFD. Valid input comes back unchanged.
std::string ToValidUtf8(std::string_view s);

}  // namespace tideline
