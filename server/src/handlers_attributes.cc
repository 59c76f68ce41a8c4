// The operations on what a stream carries besides its records (storage/stream_attributes.h):
// tags, capacity mode, encryption settings, enhanced monitoring, resource policies, registered
// consumers, and DescribeLimits. Requests reach these handlers validated against the service
// model (ParseRequest); what is checked here is AWS's semantics: limits, states, existence.
#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <iterator>
#include <variant>

#include <fmt/format.h>

#include "handlers.h"
#include "handlers_common.h"
#include "handlers_settings.h"
#include "subscriptions.h"

namespace tideline::server {
namespace {

using storage::StreamAttributes;
using storage::StreamConsumer;
using storage::StreamMode;

constexpr size_t kMaxTagsPerResource = 50;
constexpr size_t kMaxConsumersPerStream = 20;
constexpr size_t kMaxConsumersCreating = 5;
constexpr int64_t kListTagsDefaultLimit = 50;
constexpr int64_t kListConsumersDefaultLimit = 100;
constexpr int64_t kNextTokenLifetimeMs = 300'000;  // Kinesis pagination tokens live 5 minutes
constexpr std::string_view kConsumersToken = "ListStreamConsumers/1";
constexpr int64_t kOnDemandStreamCountLimit = 50;  // AWS's default quota per account and region
constexpr std::array<std::string_view, 7> kShardLevelMetrics = {
    "IncomingBytes",
    "IncomingRecords",
    "OutgoingBytes",
    "OutgoingRecords",
    "WriteProvisionedThroughputExceeded",
    "ReadProvisionedThroughputExceeded",
    "IteratorAgeMilliseconds"};

// The resource a ResourceARN names: a stream, or a consumer of one.
struct ResourceRef {
  StreamName stream;
  std::string consumer;  // empty for the stream itself
  int64_t consumer_created_s = 0;
};

// "arn:aws:kinesis:<region>:<account>:stream/<name>[/consumer/<consumer>:<epoch seconds>]".
// The model has checked the overall pattern; this splits the parts and insists on our region
// and account (another region's or account's resource does not exist here). `stream` is the
// store's name.
std::optional<ResourceRef> ParseResourceArn(const HandlerContext& ctx, std::string_view arn) {
  const std::string prefix =
      fmt::format("arn:aws:kinesis:{}:{}:stream/", ctx.Region(), ctx.account.account_id);
  if (arn.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view rest = arn.substr(prefix.size());
  ResourceRef ref;
  const size_t slash = rest.find("/consumer/");
  const std::string_view stream = rest.substr(0, slash);
  if (!StreamName::IsValid(stream)) return std::nullopt;
  ref.stream = StoredName(ctx, stream);
  if (slash == std::string_view::npos) return ref;
  rest = rest.substr(slash + 10);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  ref.consumer = std::string(rest.substr(0, colon));
  const std::string_view epoch = rest.substr(colon + 1);
  const auto [end, ec] =
      std::from_chars(epoch.data(), epoch.data() + epoch.size(), ref.consumer_created_s);
  if (ec != std::errc() || end != epoch.data() + epoch.size()) return std::nullopt;
  return ref;
}

std::string ConsumerArn(const HandlerContext& ctx, std::string_view stream,
                        const StreamConsumer& c) {
  return fmt::format("{}/consumer/{}:{}", StreamArn(ctx, stream), c.name, c.created_ms / 1000);
}

// CREATING until the status delay has passed since registration, then ACTIVE; DELETING from
// deregistration until the delay has passed, then gone.
enum class ConsumerState { kCreating, kActive, kDeleting, kGone };

ConsumerState StateOf(const HandlerContext& ctx, const StreamConsumer& c, int64_t now_ms) {
  const int64_t delay = ctx.status_delay.count();
  if (c.deleting_since_ms != 0) {
    return now_ms - c.deleting_since_ms >= delay ? ConsumerState::kGone : ConsumerState::kDeleting;
  }
  return now_ms - c.created_ms >= delay ? ConsumerState::kActive : ConsumerState::kCreating;
}

std::string_view StateName(ConsumerState s) {
  switch (s) {
    case ConsumerState::kCreating:
      return "CREATING";
    case ConsumerState::kActive:
      return "ACTIVE";
    case ConsumerState::kDeleting:
      return "DELETING";
    case ConsumerState::kGone:
      break;
  }
  return "DELETING";
}

// Drops consumers whose deregistration has completed.
void PurgeGone(const HandlerContext& ctx, StreamAttributes& a, int64_t now_ms) {
  std::erase_if(a.consumers, [&](const StreamConsumer& c) {
    return StateOf(ctx, c, now_ms) == ConsumerState::kGone;
  });
}

// The live consumer of that name (registered, or deregistering but not yet gone).
StreamConsumer* FindConsumer(const HandlerContext& ctx, StreamAttributes& a, std::string_view name,
                             int64_t now_ms) {
  for (StreamConsumer& c : a.consumers) {
    if (c.name == name && StateOf(ctx, c, now_ms) != ConsumerState::kGone) return &c;
  }
  return nullptr;
}

std::string ConsumerNotFoundMessage(const HandlerContext& ctx, std::string_view consumer,
                                    std::string_view stream) {
  return fmt::format("Consumer {} under stream {} under account {} not found.", consumer,
                     DisplayName(stream), ctx.account.account_id);
}

// The Tags member as (key, value) pairs; the model has checked the count and lengths.
std::vector<std::pair<std::string, std::string>> ReadTags(const rapidjson::Value* tags) {
  std::vector<std::pair<std::string, std::string>> out;
  if (tags == nullptr || !tags->IsObject()) return out;
  for (auto it = tags->MemberBegin(); it != tags->MemberEnd(); ++it) {
    if (!it->value.IsString()) continue;  // JSON null: the model allows it as absent
    out.emplace_back(std::string(it->name.GetString(), it->name.GetStringLength()),
                     std::string(it->value.GetString(), it->value.GetStringLength()));
  }
  return out;
}

std::vector<std::string> ReadStrings(const rapidjson::Value* list) {
  std::vector<std::string> out;
  if (list == nullptr || !list->IsArray()) return out;
  for (const auto& v : list->GetArray()) {
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

// AWS reserves the aws: prefix for its own tags.
std::optional<ApiResponse> CheckTagKeys(const std::vector<std::pair<std::string, std::string>>& t) {
  for (const auto& [key, value] : t) {
    if (key.size() >= 4 && std::equal(key.begin(), key.begin() + 4, "aws:", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      return MakeError(ApiErrorType::kInvalidArgument,
                       fmt::format("Tag key {} is invalid: the aws: prefix is reserved.", key));
    }
  }
  return std::nullopt;
}

// A resource as tag messages name it: its kind ("stream", "consumer") and name.
struct TagTarget {
  std::string_view kind;
  std::string_view name;
};

// Merges `add` into `tags`, refusing to exceed the per-resource limit with Kinesis's wording
// (as kinesalite has it from the service, with today's limit of 50).
Status MergeTags(const HandlerContext& ctx, std::map<std::string, std::string>& tags,
                 const std::vector<std::pair<std::string, std::string>>& add, TagTarget target) {
  std::map<std::string, std::string> next = tags;
  for (const auto& [k, v] : add)
    next[k] = v;
  if (next.size() > kMaxTagsPerResource) {
    return Status::InvalidArgument(fmt::format(
        "Failed to add tags to {} {} under account {} because a given {} cannot have "
        "more than {} tags associated with it.",
        target.kind, target.name, ctx.account.account_id, target.kind, kMaxTagsPerResource));
  }
  tags = std::move(next);
  return Status::Ok();
}

void WriteTagList(JsonWriter& w, const std::map<std::string, std::string>& tags,
                  std::map<std::string, std::string>::const_iterator from, size_t limit) {
  w.StartArray();
  size_t n = 0;
  for (auto it = from; it != tags.end() && n < limit; ++it, ++n) {
    w.StartObject();
    w.Key("Key");
    w.String(it->first);
    w.Key("Value");
    w.String(it->second);
    w.EndObject();
  }
  w.EndArray();
}

ApiResponse Json(JsonWriter& w) {
  ApiResponse resp;
  resp.body = w.Take();
  return resp;
}

// Resolves a request's stream (StreamName/StreamARN); `required` as the model says.
struct Request {
  rapidjson::Document doc;
  FieldReader r;
  Validator v;
  StreamRef ref;
};

std::optional<ApiResponse> Parse(const HandlerContext& ctx, std::string_view op,
                                 std::string_view body, Request& q, bool stream_required) {
  ApiResponse err;
  if (!ParseRequest(op, q.doc, body, err)) return err;
  q.ref = ReadStreamRef(ctx, q.r, q.v, q.doc, stream_required);
  if (auto bad = CheckRequest(q.v)) return bad;
  if (q.ref.error) return q.ref.error;
  return std::nullopt;
}

}  // namespace

size_t CountConsumers(const HandlerContext& ctx, const StreamAttributes& attributes) {
  const int64_t now = ctx.now_ms();
  return static_cast<size_t>(
      std::count_if(attributes.consumers.begin(), attributes.consumers.end(), [&](auto& c) {
        const ConsumerState s = StateOf(ctx, c, now);
        return s == ConsumerState::kCreating || s == ConsumerState::kActive;
      }));
}

std::optional<ApiResponse> ReadCreationTags(const HandlerContext& ctx, std::string_view stream,
                                            const rapidjson::Value* tags,
                                            std::map<std::string, std::string>& out) {
  const auto pairs = ReadTags(tags);
  if (auto bad = CheckTagKeys(pairs)) return bad;
  const Status st = MergeTags(ctx, out, pairs, {"stream", stream});
  if (!st.ok()) return MakeErrorFromStatus(st);
  return std::nullopt;
}

// ---- Tags on streams.

ApiResponse HandleAddTagsToStream(const HandlerContext& ctx, std::string_view body) {
  Request q;
  if (auto bad = Parse(ctx, "AddTagsToStream", body, q, /*stream_required=*/true)) return *bad;
  if (auto refused = CheckStreamUsable(ctx, *q.ref.name)) return *refused;
  const auto tags = ReadTags(q.r.Object(q.doc, "Tags"));
  if (auto bad = CheckTagKeys(tags)) return *bad;
  const std::string stream = q.ref.name->get();
  const Status st = ctx.store->UpdateStreamAttributes(*q.ref.name, [&](StreamAttributes& a) {
    return MergeTags(ctx, a.tags, tags, {"stream", stream});
  });
  if (!st.ok()) return StreamError(ctx, st, stream);
  return ApiResponse{};
}

ApiResponse HandleRemoveTagsFromStream(const HandlerContext& ctx, std::string_view body) {
  Request q;
  if (auto bad = Parse(ctx, "RemoveTagsFromStream", body, q, /*stream_required=*/true)) return *bad;
  if (auto refused = CheckStreamUsable(ctx, *q.ref.name)) return *refused;
  const auto keys = ReadStrings(q.r.Array(q.doc, "TagKeys"));
  const Status st = ctx.store->UpdateStreamAttributes(*q.ref.name, [&](StreamAttributes& a) {
    for (const std::string& k : keys)
      a.tags.erase(k);
    return Status::Ok();
  });
  if (!st.ok()) return StreamError(ctx, st, q.ref.name->get());
  return ApiResponse{};
}

ApiResponse HandleListTagsForStream(const HandlerContext& ctx, std::string_view body) {
  Request q;
  if (auto bad = Parse(ctx, "ListTagsForStream", body, q, /*stream_required=*/true)) return *bad;
  const auto start = q.r.String(q.doc, "ExclusiveStartTagKey");
  const int64_t limit = q.r.Integer(q.doc, "Limit").value_or(kListTagsDefaultLimit);
  auto attrs = ctx.store->GetStreamAttributes(*q.ref.name);
  if (!attrs.ok()) return StreamError(ctx, attrs.status(), q.ref.name->get());
  const auto& tags = attrs->tags;
  auto from = start ? tags.upper_bound(std::string(*start)) : tags.begin();
  const size_t remaining = static_cast<size_t>(std::distance(from, tags.end()));
  JsonWriter w;
  w.StartObject();
  w.Key("Tags");
  WriteTagList(w, tags, from, static_cast<size_t>(limit));
  w.Key("HasMoreTags");
  w.Bool(remaining > static_cast<size_t>(limit));
  w.EndObject();
  return Json(w);
}

// ---- Resources by ARN (streams and consumers): tags and policies.

namespace {

// The tags and policy of the stream or consumer a ResourceARN names, and how messages name it.
struct ResourceFields {
  std::map<std::string, std::string>* tags = nullptr;
  std::string* policy = nullptr;
  TagTarget target;
};

// Applies `change` (Status(ResourceFields&)) to the resource `arn` names, durably, or reads it
// when `change` leaves it as it was. The error response when the resource does not exist.
template <typename Change>
ApiResponse ChangeResource(const HandlerContext& ctx, std::string_view arn, Change change) {
  const auto ref = ParseResourceArn(ctx, arn);
  if (!ref) {
    return MakeError(ApiErrorType::kResourceNotFound, fmt::format("Resource {} not found.", arn));
  }
  if (auto refused = CheckStreamUsable(ctx, ref->stream)) return *refused;
  const int64_t now = ctx.now_ms();
  bool consumer_missing = false;
  std::string consumer_not_active;  // the error message when the consumer is not ACTIVE
  const Status st = ctx.store->UpdateStreamAttributes(ref->stream, [&](StreamAttributes& a) {
    if (ref->consumer.empty()) {
      ResourceFields fields{&a.tags, &a.policy, {"stream", ref->stream.get()}};
      return change(fields);
    }
    StreamConsumer* c = FindConsumer(ctx, a, ref->consumer, now);
    if (c == nullptr || c->created_ms / 1000 != ref->consumer_created_s) {
      consumer_missing = true;
      return Status::NotFound("consumer");
    }
    if (StateOf(ctx, *c, now) != ConsumerState::kActive) {
      // AWS's words for a resource policy put on a consumer still CREATING.
      consumer_not_active = fmt::format(
          "Consumer {} with creation timestamp {} under stream {} and account {} is not in "
          "ACTIVE status.",
          c->name, c->created_ms / 1000, ref->stream.get(), ctx.account.account_id);
      return Status::ResourceInUse("consumer");
    }
    ResourceFields fields{&c->tags, &c->policy, {"consumer", ref->consumer}};
    return change(fields);
  });
  if (consumer_missing) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     ConsumerNotFoundMessage(ctx, ref->consumer, ref->stream.get()));
  }
  if (!consumer_not_active.empty()) {
    return MakeError(ApiErrorType::kResourceInUse, consumer_not_active);
  }
  if (!st.ok()) return StreamError(ctx, st, ref->stream.get());
  return ApiResponse{};
}

// Copies out the tags and policy of the resource `arn` names (nothing is written: the copy is
// taken through a read of the stored attributes).
struct ResourceCopy {
  std::map<std::string, std::string> tags;
  std::string policy;
};
std::variant<ResourceCopy, ApiResponse> ReadResource(const HandlerContext& ctx,
                                                     std::string_view arn) {
  const auto ref = ParseResourceArn(ctx, arn);
  if (!ref) {
    return MakeError(ApiErrorType::kResourceNotFound, fmt::format("Resource {} not found.", arn));
  }
  auto attrs = ctx.store->GetStreamAttributes(ref->stream);
  if (!attrs.ok()) return StreamError(ctx, attrs.status(), ref->stream.get());
  if (ref->consumer.empty()) return ResourceCopy{attrs->tags, attrs->policy};
  const StreamConsumer* c = FindConsumer(ctx, *attrs, ref->consumer, ctx.now_ms());
  if (c == nullptr || c->created_ms / 1000 != ref->consumer_created_s) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     ConsumerNotFoundMessage(ctx, ref->consumer, ref->stream.get()));
  }
  return ResourceCopy{c->tags, c->policy};
}

}  // namespace

ApiResponse HandleTagResource(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("TagResource", doc, body, err)) return err;
  FieldReader r;
  const auto arn = r.String(doc, "ResourceARN").value_or("");
  const auto tags = ReadTags(r.Object(doc, "Tags"));
  if (auto bad = CheckTagKeys(tags)) return *bad;
  return ChangeResource(ctx, arn,
                        [&](ResourceFields& f) { return MergeTags(ctx, *f.tags, tags, f.target); });
}

ApiResponse HandleUntagResource(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("UntagResource", doc, body, err)) return err;
  FieldReader r;
  const auto arn = r.String(doc, "ResourceARN").value_or("");
  const auto keys = ReadStrings(r.Array(doc, "TagKeys"));
  return ChangeResource(ctx, arn, [&](ResourceFields& f) {
    for (const std::string& k : keys)
      f.tags->erase(k);
    return Status::Ok();
  });
}

ApiResponse HandleListTagsForResource(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("ListTagsForResource", doc, body, err)) return err;
  FieldReader r;
  const auto arn = r.String(doc, "ResourceARN").value_or("");
  auto read = ReadResource(ctx, arn);
  if (auto* e = std::get_if<ApiResponse>(&read)) return *e;
  const auto& tags = std::get<ResourceCopy>(read).tags;
  JsonWriter w;
  w.StartObject();
  w.Key("Tags");
  WriteTagList(w, tags, tags.begin(), kMaxTagsPerResource);
  w.EndObject();
  return Json(w);
}

// ---- Limits and capacity mode.

ApiResponse HandleDescribeLimits(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("DescribeLimits", doc, body, err)) return err;
  int64_t open_shards = 0;
  int64_t on_demand = 0;
  std::string after;
  for (;;) {
    const auto names = ctx.store->ListStreams(after, 1000);
    if (names.empty()) break;
    for (const StreamName& n : names) {
      auto info = ctx.store->DescribeStream(n);
      if (!info.ok()) continue;  // deleted since listed
      open_shards += static_cast<int64_t>(info->OpenShardCount());
      auto attrs = ctx.store->GetStreamAttributes(n);
      if (attrs.ok() && attrs->mode == StreamMode::kOnDemand) ++on_demand;
    }
    after = names.back().get();
  }
  JsonWriter w;
  w.StartObject();
  w.Key("ShardLimit");
  w.Int64(static_cast<int64_t>(ctx.shard_limit));
  w.Key("OpenShardCount");
  w.Int64(open_shards);
  w.Key("OnDemandStreamCount");
  w.Int64(on_demand);
  w.Key("OnDemandStreamCountLimit");
  w.Int64(kOnDemandStreamCountLimit);
  w.EndObject();
  return Json(w);
}

ApiResponse HandleUpdateStreamMode(const HandlerContext& ctx, std::string_view body) {
  Request q;
  if (auto bad = Parse(ctx, "UpdateStreamMode", body, q, /*stream_required=*/true)) return *bad;
  if (auto refused = CheckStreamUsable(ctx, *q.ref.name)) return *refused;
  const rapidjson::Value* details = q.r.Object(q.doc, "StreamModeDetails");
  const auto mode_name = details ? q.r.String(*details, "StreamMode") : std::nullopt;
  const StreamMode mode = mode_name == std::optional<std::string_view>("ON_DEMAND")
                              ? StreamMode::kOnDemand
                              : StreamMode::kProvisioned;
  const auto warm = q.r.Integer(q.doc, "WarmThroughputMiBps");
  if (warm) {
    if (auto bad = CheckWarmThroughput(mode, *warm, CommitmentEnabled(ctx))) return *bad;
  }
  const int64_t now = ctx.now_ms();
  const Status st = ctx.store->UpdateStreamAttributes(*q.ref.name, [&](StreamAttributes& a) {
    if (warm) a.warm_throughput_mibps = static_cast<uint32_t>(*warm);
    if (a.mode == mode) return Status::Ok();
    a.mode = mode;
    a.mode_changed_ms = now;
    // A provisioned stream has no warm throughput (Kinesis supports it for on-demand only).
    if (mode == StreamMode::kProvisioned) a.warm_throughput_mibps.reset();
    return Status::Ok();
  });
  if (!st.ok()) return StreamError(ctx, st, q.ref.name->get());
  return ApiResponse{};
}

// ---- Encryption. Settings are kept and reported as Kinesis reports them; records are not
// encrypted with KMS here (the README says what the store does at rest).

ApiResponse HandleStartStreamEncryption(const HandlerContext& ctx, std::string_view body) {
  Request q;
  if (auto bad = Parse(ctx, "StartStreamEncryption", body, q, /*stream_required=*/true))
    return *bad;
  if (auto refused = CheckStreamUsable(ctx, *q.ref.name)) return *refused;
  const auto type = q.r.String(q.doc, "EncryptionType").value_or("");
  const auto key = q.r.String(q.doc, "KeyId").value_or("");
  if (type != "KMS") {
    return MakeError(ApiErrorType::kInvalidArgument,
                     fmt::format("Encryption type {} is not supported: use KMS.", type));
  }
  const Status st = ctx.store->UpdateStreamAttributes(*q.ref.name, [&](StreamAttributes& a) {
    a.encryption_type = "KMS";
    a.kms_key_id = std::string(key);
    return Status::Ok();
  });
  if (!st.ok()) return StreamError(ctx, st, q.ref.name->get());
  return ApiResponse{};
}

ApiResponse HandleStopStreamEncryption(const HandlerContext& ctx, std::string_view body) {
  Request q;
  if (auto bad = Parse(ctx, "StopStreamEncryption", body, q, /*stream_required=*/true)) return *bad;
  if (auto refused = CheckStreamUsable(ctx, *q.ref.name)) return *refused;
  const auto type = q.r.String(q.doc, "EncryptionType").value_or("");
  const auto key = q.r.String(q.doc, "KeyId").value_or("");
  const std::string stream = q.ref.name->get();
  const Status st = ctx.store->UpdateStreamAttributes(*q.ref.name, [&](StreamAttributes& a) {
    if (type != a.encryption_type || key != a.kms_key_id) {
      return Status::InvalidArgument(
          fmt::format("Encryption type {} with key {} does not match the stream {}'s encryption "
                      "({} with key {}).",
                      type, key, stream, a.encryption_type, a.kms_key_id));
    }
    a.encryption_type = "NONE";
    a.kms_key_id.clear();
    return Status::Ok();
  });
  if (!st.ok()) return StreamError(ctx, st, stream);
  return ApiResponse{};
}

// ---- Enhanced monitoring.

namespace {

std::vector<std::string> ExpandMetrics(const std::vector<std::string>& metrics) {
  std::vector<std::string> out;
  for (const std::string& m : metrics) {
    if (m == "ALL") {
      out.assign(kShardLevelMetrics.begin(), kShardLevelMetrics.end());
      break;
    }
    out.push_back(m);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void WriteMetricList(JsonWriter& w, const std::vector<std::string>& metrics) {
  w.StartArray();
  for (const std::string& m : metrics)
    w.String(m);
  w.EndArray();
}

ApiResponse ChangeMonitoring(const HandlerContext& ctx, std::string_view body, bool enable) {
  Request q;
  const std::string_view op = enable ? "EnableEnhancedMonitoring" : "DisableEnhancedMonitoring";
  if (auto bad = Parse(ctx, op, body, q, /*stream_required=*/true)) return *bad;
  if (auto refused = CheckStreamUsable(ctx, *q.ref.name)) return *refused;
  const auto change = ExpandMetrics(ReadStrings(q.r.Array(q.doc, "ShardLevelMetrics")));
  std::vector<std::string> before;
  std::vector<std::string> after;
  const Status st = ctx.store->UpdateStreamAttributes(*q.ref.name, [&](StreamAttributes& a) {
    before = a.shard_level_metrics;
    std::vector<std::string> next;
    if (enable) {
      std::set_union(before.begin(), before.end(), change.begin(), change.end(),
                     std::back_inserter(next));
    } else {
      std::set_difference(before.begin(), before.end(), change.begin(), change.end(),
                          std::back_inserter(next));
    }
    a.shard_level_metrics = next;
    after = std::move(next);
    return Status::Ok();
  });
  if (!st.ok()) return StreamError(ctx, st, q.ref.name->get());
  JsonWriter w;
  w.StartObject();
  w.Key("StreamName");
  w.String(DisplayName(q.ref.name->get()));
  w.Key("CurrentShardLevelMetrics");
  WriteMetricList(w, before);
  w.Key("DesiredShardLevelMetrics");
  WriteMetricList(w, after);
  w.Key("StreamARN");
  w.String(StreamArn(ctx, q.ref.name->get()));
  w.EndObject();
  return Json(w);
}

}  // namespace

ApiResponse HandleEnableEnhancedMonitoring(const HandlerContext& ctx, std::string_view body) {
  return ChangeMonitoring(ctx, body, /*enable=*/true);
}

ApiResponse HandleDisableEnhancedMonitoring(const HandlerContext& ctx, std::string_view body) {
  return ChangeMonitoring(ctx, body, /*enable=*/false);
}

// ---- Resource policies (stored and returned; access control is the server's auth config).

ApiResponse HandlePutResourcePolicy(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("PutResourcePolicy", doc, body, err)) return err;
  FieldReader r;
  const auto arn = r.String(doc, "ResourceARN").value_or("");
  const std::string policy(r.String(doc, "Policy").value_or(""));
  rapidjson::Document parsed;
  if (ParseJsonObject(parsed, policy).has_value()) {
    return MakeError(ApiErrorType::kInvalidArgument, "Policy is not a valid JSON policy document.");
  }
  return ChangeResource(ctx, arn, [&](ResourceFields& f) {
    *f.policy = policy;
    return Status::Ok();
  });
}

ApiResponse HandleDeleteResourcePolicy(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("DeleteResourcePolicy", doc, body, err)) return err;
  FieldReader r;
  const auto arn = r.String(doc, "ResourceARN").value_or("");
  bool had_policy = true;
  ApiResponse resp = ChangeResource(ctx, arn, [&](ResourceFields& f) {
    had_policy = !f.policy->empty();
    f.policy->clear();
    return Status::Ok();
  });
  if (resp.error_type.empty() && !had_policy) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("No resource policy found for resource {}.", arn));
  }
  return resp;
}

ApiResponse HandleGetResourcePolicy(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("GetResourcePolicy", doc, body, err)) return err;
  FieldReader r;
  const auto arn = r.String(doc, "ResourceARN").value_or("");
  auto read = ReadResource(ctx, arn);
  if (auto* e = std::get_if<ApiResponse>(&read)) return *e;
  const std::string& policy = std::get<ResourceCopy>(read).policy;
  JsonWriter w;
  w.StartObject();
  w.Key("Policy");
  w.String(policy.empty() ? "{}" : policy);
  w.EndObject();
  return Json(w);
}

// ---- Consumers.

namespace {

void WriteConsumer(const HandlerContext& ctx, JsonWriter& w, std::string_view stream,
                   const StreamConsumer& c, int64_t now_ms, bool with_stream_arn) {
  w.StartObject();
  w.Key("ConsumerName");
  w.String(c.name);
  w.Key("ConsumerARN");
  w.String(ConsumerArn(ctx, stream, c));
  w.Key("ConsumerStatus");
  w.String(StateName(StateOf(ctx, c, now_ms)));
  w.Key("ConsumerCreationTimestamp");
  w.EpochSeconds(c.created_ms);
  if (with_stream_arn) {
    w.Key("StreamARN");
    w.String(StreamArn(ctx, stream));
  }
  w.EndObject();
}

// The consumer a Describe/Deregister request names: ConsumerARN, or StreamARN + ConsumerName.
struct ConsumerRef {
  StreamName stream;
  std::string name;
  std::optional<int64_t> created_s;  // from a ConsumerARN
};

std::variant<ConsumerRef, ApiResponse> ReadConsumerRef(const HandlerContext& ctx,
                                                       const rapidjson::Value& doc) {
  FieldReader r;
  const auto consumer_arn = r.String(doc, "ConsumerARN");
  const auto stream_arn = r.String(doc, "StreamARN");
  const auto name = r.String(doc, "ConsumerName");
  if (consumer_arn) {
    const auto ref = ParseResourceArn(ctx, *consumer_arn);
    if (!ref || ref->consumer.empty()) {
      return MakeError(ApiErrorType::kResourceNotFound,
                       fmt::format("Consumer {} not found.", *consumer_arn));
    }
    return ConsumerRef{ref->stream, ref->consumer, ref->consumer_created_s};
  }
  if (!stream_arn || !name) {
    return MakeError(ApiErrorType::kInvalidArgument,
                     "Either ConsumerARN or both StreamARN and ConsumerName must be provided.");
  }
  const auto ref = ParseResourceArn(ctx, *stream_arn);
  if (!ref || !ref->consumer.empty()) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("Stream {} not found.", *stream_arn));
  }
  return ConsumerRef{ref->stream, std::string(*name), std::nullopt};
}

}  // namespace

std::variant<ActiveConsumer, ApiResponse> FindActiveConsumer(const HandlerContext& ctx,
                                                             std::string_view consumer_arn) {
  const auto ref = ParseResourceArn(ctx, consumer_arn);
  if (!ref || ref->consumer.empty()) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("Consumer {} not found.", consumer_arn));
  }
  auto attrs = ctx.store->GetStreamAttributes(ref->stream);
  if (!attrs.ok()) return StreamError(ctx, attrs.status(), ref->stream.get());
  const int64_t now = ctx.now_ms();
  const StreamConsumer* c = FindConsumer(ctx, *attrs, ref->consumer, now);
  if (c == nullptr || c->created_ms / 1000 != ref->consumer_created_s) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     ConsumerNotFoundMessage(ctx, ref->consumer, ref->stream.get()));
  }
  if (StateOf(ctx, *c, now) != ConsumerState::kActive) {
    return MakeError(ApiErrorType::kResourceInUse,
                     fmt::format("Consumer {} with creation timestamp {} under stream {} and "
                                 "account {} is not in ACTIVE status.",
                                 c->name, c->created_ms / 1000, DisplayName(ref->stream.get()),
                                 ctx.account.account_id));
  }
  return ActiveConsumer{ref->stream, c->name, ConsumerArn(ctx, ref->stream.get(), *c)};
}

ApiResponse HandleRegisterStreamConsumer(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("RegisterStreamConsumer", doc, body, err)) return err;
  FieldReader r;
  const auto stream_arn = r.String(doc, "StreamARN").value_or("");
  const std::string name(r.String(doc, "ConsumerName").value_or(""));
  const auto tags = ReadTags(r.Object(doc, "Tags"));
  if (auto bad = CheckTagKeys(tags)) return *bad;
  const auto ref = ParseResourceArn(ctx, stream_arn);
  if (!ref || !ref->consumer.empty()) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("Stream {} not found.", stream_arn));
  }
  if (auto refused = CheckStreamUsable(ctx, ref->stream)) return *refused;
  const int64_t now = ctx.now_ms();
  StreamConsumer made;
  std::optional<ApiResponse> refused;
  const Status st = ctx.store->UpdateStreamAttributes(ref->stream, [&](StreamAttributes& a) {
    PurgeGone(ctx, a, now);
    if (FindConsumer(ctx, a, name, now) != nullptr) {
      refused =
          MakeError(ApiErrorType::kResourceInUse,
                    fmt::format("Consumer {} under stream {} already exists for account {}.", name,
                                DisplayName(ref->stream.get()), ctx.account.account_id));
      return Status::ResourceInUse("consumer exists");
    }
    if (a.consumers.size() >= kMaxConsumersPerStream) {
      refused = MakeError(ApiErrorType::kLimitExceeded,
                          fmt::format("Stream {} under account {} has the maximum of {} "
                                      "consumers registered.",
                                      DisplayName(ref->stream.get()), ctx.account.account_id,
                                      kMaxConsumersPerStream));
      return Status::LimitExceeded("consumers");
    }
    const auto creating = std::count_if(a.consumers.begin(), a.consumers.end(), [&](auto& c) {
      return StateOf(ctx, c, now) == ConsumerState::kCreating;
    });
    if (static_cast<size_t>(creating) >= kMaxConsumersCreating) {
      refused =
          MakeError(ApiErrorType::kLimitExceeded,
                    fmt::format("Stream {} under account {} already has {} consumers in "
                                "CREATING status.",
                                DisplayName(ref->stream.get()), ctx.account.account_id, creating));
      return Status::LimitExceeded("creating");
    }
    made = StreamConsumer{name, now, 0, "", {}};
    TL_RETURN_IF_ERROR(MergeTags(ctx, made.tags, tags, {"consumer", name}));
    a.consumers.push_back(made);
    return Status::Ok();
  });
  if (refused) return *refused;
  if (!st.ok()) return StreamError(ctx, st, ref->stream.get());
  JsonWriter w;
  w.StartObject();
  w.Key("Consumer");
  WriteConsumer(ctx, w, ref->stream.get(), made, now, /*with_stream_arn=*/false);
  w.EndObject();
  return Json(w);
}

ApiResponse HandleDeregisterStreamConsumer(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("DeregisterStreamConsumer", doc, body, err)) return err;
  auto read = ReadConsumerRef(ctx, doc);
  if (auto* e = std::get_if<ApiResponse>(&read)) return *e;
  const ConsumerRef ref = std::get<ConsumerRef>(read);
  const int64_t now = ctx.now_ms();
  bool missing = false;
  const Status st = ctx.store->UpdateStreamAttributes(ref.stream, [&](StreamAttributes& a) {
    PurgeGone(ctx, a, now);
    StreamConsumer* c = FindConsumer(ctx, a, ref.name, now);
    if (c == nullptr || (ref.created_s && c->created_ms / 1000 != *ref.created_s) ||
        c->deleting_since_ms != 0) {
      missing = true;
      return Status::NotFound("consumer");
    }
    c->deleting_since_ms = now;
    if (ctx.status_delay.count() == 0) PurgeGone(ctx, a, now);
    return Status::Ok();
  });
  if (missing) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     ConsumerNotFoundMessage(ctx, ref.name, ref.stream.get()));
  }
  if (!st.ok()) return StreamError(ctx, st, ref.stream.get());
  // Its subscriptions end now, as the consumer is DELETING.
  if (ctx.subscriptions != nullptr) {
    ctx.subscriptions->EndConsumer(ref.stream, ref.name,
                                   ConsumerNotFoundMessage(ctx, ref.name, ref.stream.get()));
  }
  return ApiResponse{};
}

ApiResponse HandleDescribeStreamConsumer(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("DescribeStreamConsumer", doc, body, err)) return err;
  auto read = ReadConsumerRef(ctx, doc);
  if (auto* e = std::get_if<ApiResponse>(&read)) return *e;
  const ConsumerRef ref = std::get<ConsumerRef>(read);
  auto attrs = ctx.store->GetStreamAttributes(ref.stream);
  if (!attrs.ok()) return StreamError(ctx, attrs.status(), ref.stream.get());
  const int64_t now = ctx.now_ms();
  const StreamConsumer* c = FindConsumer(ctx, *attrs, ref.name, now);
  if (c == nullptr || (ref.created_s && c->created_ms / 1000 != *ref.created_s)) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     ConsumerNotFoundMessage(ctx, ref.name, ref.stream.get()));
  }
  JsonWriter w;
  w.StartObject();
  w.Key("ConsumerDescription");
  WriteConsumer(ctx, w, ref.stream.get(), *c, now, /*with_stream_arn=*/true);
  w.EndObject();
  return Json(w);
}

ApiResponse HandleListStreamConsumers(const HandlerContext& ctx, std::string_view body) {
  rapidjson::Document doc;
  ApiResponse err;
  if (!ParseRequest("ListStreamConsumers", doc, body, err)) return err;
  FieldReader r;
  const auto stream_arn = r.String(doc, "StreamARN").value_or("");
  const auto token = r.String(doc, "NextToken");
  const int64_t limit = r.Integer(doc, "MaxResults").value_or(kListConsumersDefaultLimit);
  const auto created = r.TimestampMs(doc, "StreamCreationTimestamp");
  const auto ref = ParseResourceArn(ctx, stream_arn);
  if (!ref || !ref->consumer.empty()) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     fmt::format("Stream {} not found.", stream_arn));
  }
  const int64_t now = ctx.now_ms();
  // The token: "<issued ms>\n<last consumer name listed>".
  std::string after;
  if (token) {
    const auto decoded = DecodePageToken(kConsumersToken, *token);
    const size_t nl = decoded ? decoded->find('\n') : std::string::npos;
    int64_t issued = 0;
    if (nl == std::string::npos ||
        std::from_chars(decoded->data(), decoded->data() + nl, issued).ec != std::errc()) {
      return MakeError(ApiErrorType::kInvalidArgument, "Invalid NextToken.");
    }
    if (now - issued > kNextTokenLifetimeMs) {
      return MakeError(ApiErrorType::kExpiredNextToken,
                       "The NextToken has expired. Retry the request without a NextToken.");
    }
    after = decoded->substr(nl + 1);
  }
  auto info = ctx.store->DescribeStream(ref->stream);
  if (!info.ok()) return StreamError(ctx, info.status(), ref->stream.get());
  if (IsCreatingOrDeleting(info->status))
    return NotActiveError(ctx, ref->stream.get(), info->status);
  if (created && *created / 1000 != info->created_ms / 1000) {
    return MakeError(ApiErrorType::kResourceNotFound,
                     StreamNotFoundMessage(ctx, ref->stream.get()));
  }
  auto attrs = ctx.store->GetStreamAttributes(ref->stream);
  if (!attrs.ok()) return StreamError(ctx, attrs.status(), ref->stream.get());
  std::vector<const StreamConsumer*> live;
  for (const StreamConsumer& c : attrs->consumers) {
    if (StateOf(ctx, c, now) != ConsumerState::kGone) live.push_back(&c);
  }
  std::sort(live.begin(), live.end(), [](auto* a, auto* b) { return a->name < b->name; });
  auto from = live.begin();
  if (!after.empty()) {
    from =
        std::upper_bound(live.begin(), live.end(), after,
                         [](const std::string& n, const StreamConsumer* c) { return n < c->name; });
  }
  JsonWriter w;
  w.StartObject();
  w.Key("Consumers");
  w.StartArray();
  int64_t n = 0;
  auto it = from;
  for (; it != live.end() && n < limit; ++it, ++n)
    WriteConsumer(ctx, w, ref->stream.get(), **it, now, /*with_stream_arn=*/false);
  w.EndArray();
  if (it != live.end()) {
    w.Key("NextToken");
    w.String(EncodePageToken(kConsumersToken, fmt::format("{}\n{}", now, (*(it - 1))->name)));
  }
  w.EndObject();
  return Json(w);
}

}  // namespace tideline::server
