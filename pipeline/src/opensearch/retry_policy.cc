#include "opensearch/retry_policy.h"

#include <utility>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "common/json_parse.h"
#include "common/json_write.h"

namespace tideline::pipeline::opensearch {

ItemAction ClassifyItem(int status, bool was_create) {
  if (status >= 200 && status < 300) return ItemAction::kDelivered;
  if (status == 409 && was_create) return ItemAction::kDelivered;
  if (status == 429 || status >= 500) return ItemAction::kRetry;
  return ItemAction::kReject;
}

RequestAction ClassifyRequest(int status) {
  if (status >= 200 && status < 300) return RequestAction::kParseItems;
  if (status == 413 || status == 400) return RequestAction::kSplit;
  return RequestAction::kRetryAll;
}

Result<std::vector<BulkItem>> ParseBulkResponse(std::string_view body, size_t expected_items) {
  rapidjson::Document doc;
  if (auto error = json::ParseJson(doc, body, json::kPeerResponseLimits)) {
    return Status::Corruption("bulk response is not JSON: " + *error);
  }
  if (!doc.IsObject()) return Status::Corruption("bulk response is not a JSON object");
  auto items = doc.FindMember("items");
  if (items == std::as_const(doc).MemberEnd() || !items->value.IsArray()) {
    return Status::Corruption("bulk response has no items array");
  }
  const auto& array = items->value.GetArray();
  if (array.Size() != expected_items) {
    return Status::Corruption("bulk response has " + std::to_string(array.Size()) + " items for " +
                              std::to_string(expected_items) + " documents");
  }
  std::vector<BulkItem> out(expected_items);
  for (rapidjson::SizeType i = 0; i < array.Size(); ++i) {
    const auto& item = array[i];
    // {"create": {...}}: one member named after the action.
    if (!item.IsObject() || item.MemberCount() != 1 || !item.MemberBegin()->value.IsObject()) {
      return Status::Corruption("bulk response item " + std::to_string(i) + " is malformed");
    }
    const auto& result = item.MemberBegin()->value;
    auto status = result.FindMember("status");
    if (status == result.MemberEnd() || !status->value.IsInt()) {
      return Status::Corruption("bulk response item " + std::to_string(i) + " has no status");
    }
    out[i].status = status->value.GetInt();
    auto error = result.FindMember("error");
    if (error != result.MemberEnd()) {
      json::StringAppender sink(out[i].error);
      json::StringWriter w(sink);
      error->value.Accept(w);
    }
  }
  return out;
}

Backoff::Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, uint64_t seed)
    : base_(base), cap_(cap), rng_(seed) {}

std::chrono::milliseconds Backoff::Next(int attempt) {
  auto ceiling = base_;
  for (int i = 0; i < attempt && ceiling < cap_; ++i)
    ceiling *= 2;
  ceiling = std::min(ceiling, cap_);
  std::uniform_int_distribution<int64_t> pick(0, ceiling.count());
  return std::chrono::milliseconds(pick(rng_));
}

}  // namespace tideline::pipeline::opensearch
