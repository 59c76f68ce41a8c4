// pipeline/src/opensearch/retry_policy.h: an OpenSearch _bulk response (untrusted bytes).
//
// The first input byte is the number of documents the request carried; the rest is the body.
// A parsed response answers exactly that many items, and every item classifies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "opensearch/retry_policy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace os = tideline::pipeline::opensearch;
  if (size < 1) return 0;
  const size_t expected = data[0];
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);

  const auto items = os::ParseBulkResponse(body, expected);
  if (!items.ok()) return 0;
  FUZZ_CHECK(items->size() == expected);
  for (const os::BulkItem& item : *items) {
    (void)os::ClassifyItem(item.status, /*was_create=*/true);
    (void)os::ClassifyItem(item.status, /*was_create=*/false);
  }
  return 0;
}
