// Request ids for x-amzn-RequestId.
#pragma once

#include <string>

namespace tideline::server {

// A random (version 4) UUID in its canonical 36-character form. Thread-safe.
std::string NewRequestId();

}  // namespace tideline::server
