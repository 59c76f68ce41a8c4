// pipeline/src/access_log_parser.h: one access-log line from a record (untrusted bytes).
//
// Checks that every returned field is a view into the line, that split requests are pieces of
// the request, and that the error description stays bounded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "processors/access_log_parser.h"

namespace {

bool Within(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;  // empty views may point anywhere
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tideline::pipeline;
  const std::string line(reinterpret_cast<const char*>(data), size);  // exact-size heap copy
  const std::string_view in(line);
  AccessLogLine out;
  AccessLogParseError error;
  if (ParseAccessLogLine(in, out, error)) {
    FUZZ_CHECK(Within(out.line, in));
    for (std::string_view f : {out.client_ip, out.ident, out.user, out.request})
      FUZZ_CHECK(Within(f, out.line));
    FUZZ_CHECK(!out.client_ip.empty() && !out.ident.empty() && !out.user.empty());
    FUZZ_CHECK(out.status >= 0 && out.status <= 999);
    if (out.request_split) {
      FUZZ_CHECK(!out.method.empty() && !out.target.empty());
      for (std::string_view f : {out.method, out.target, out.protocol})
        FUZZ_CHECK(Within(f, out.request));
    }
    if (out.combined) {
      FUZZ_CHECK(Within(out.referrer, out.line) && Within(out.user_agent, out.line));
    }
  } else {
    FUZZ_CHECK(error.what != nullptr);
    FUZZ_CHECK(error.offset <= in.size());
    const std::string described = DescribeAccessLogParseError(in, error);
    FUZZ_CHECK(described.size() <= 512);
  }
  return 0;
}
