// pipeline/src/lambda_protocol.h: a transformation Lambda's response (untrusted bytes).
//
// The first input byte says how many records the request carried (ids "r0".."r<n-1>"); the
// rest is the response body. Every requested record gets exactly one consistent outcome.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "lambda/lambda_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace lambda = tideline::pipeline::lambda;
  if (size < 1) return 0;
  std::vector<std::string> ids;
  for (int i = 0; i < data[0] % 9; ++i)
    ids.push_back("r" + std::to_string(i));
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto parsed = lambda::ParseResponse(body, ids);
  if (!parsed.ok()) return 0;
  FUZZ_CHECK(parsed->outcomes.size() == ids.size());
  for (const lambda::RecordOutcome& o : parsed->outcomes) {
    switch (o.kind) {
      case lambda::RecordOutcome::Kind::kOk:
        FUZZ_CHECK(o.error_code.empty());
        break;
      case lambda::RecordOutcome::Kind::kDropped:
        FUZZ_CHECK(o.error_code.empty() && o.data.empty());
        break;
      case lambda::RecordOutcome::Kind::kFailed:
        FUZZ_CHECK(!o.error_code.empty() && o.data.empty());
        break;
    }
  }
  return 0;
}
