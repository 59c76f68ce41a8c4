// The botocore-signed requests of sigv4_vectors.inc (made by gen_sigv4_vectors.py).
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace tideline::auth::testing {

struct BotocoreVector {
  std::string_view name;
  std::string_view method;
  std::string_view target;
  std::string_view body;
  std::string_view region;
  std::string_view session_token;
  int presign_expires;
  std::vector<std::pair<std::string_view, std::string_view>> sent_headers;
  std::vector<std::pair<std::string_view, std::string_view>> unsigned_headers;
};

#include "sigv4_vectors.inc"

}  // namespace tideline::auth::testing
