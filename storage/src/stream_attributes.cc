// Stream attributes (storage/stream_attributes.h): stored under attrs/<name> in `meta`, beside
// the stream's own record, and changed under the stream's meta_mu.
#include <string>

#include "keys.h"
#include "store_impl.h"

namespace tideline::storage {

proto::StreamAttributes StoreImpl::AttributesToProto(const StreamAttributes& attributes) {
  proto::StreamAttributes out;
  for (const auto& [key, value] : attributes.tags)
    (*out.mutable_tags())[key] = value;
  out.set_mode(attributes.mode == StreamMode::kOnDemand ? proto::StreamAttributes::ON_DEMAND
                                                        : proto::StreamAttributes::PROVISIONED);
  out.set_mode_changed_ms(attributes.mode_changed_ms);
  if (attributes.encryption_type != "NONE") out.set_encryption_type(attributes.encryption_type);
  out.set_kms_key_id(attributes.kms_key_id);
  for (const std::string& metric : attributes.shard_level_metrics)
    out.add_shard_level_metrics(metric);
  out.set_policy(attributes.policy);
  for (const StreamConsumer& c : attributes.consumers) {
    auto* pc = out.add_consumers();
    pc->set_name(c.name);
    pc->set_created_ms(c.created_ms);
    pc->set_deleting_since_ms(c.deleting_since_ms);
    pc->set_policy(c.policy);
    for (const auto& [key, value] : c.tags)
      (*pc->mutable_tags())[key] = value;
  }
  return out;
}

StreamAttributes StoreImpl::AttributesFromProto(const proto::StreamAttributes& stored) {
  StreamAttributes out;
  out.tags.insert(stored.tags().begin(), stored.tags().end());
  out.mode = stored.mode() == proto::StreamAttributes::ON_DEMAND ? StreamMode::kOnDemand
                                                                 : StreamMode::kProvisioned;
  out.mode_changed_ms = stored.mode_changed_ms();
  out.encryption_type = stored.encryption_type().empty() ? "NONE" : stored.encryption_type();
  out.kms_key_id = stored.kms_key_id();
  out.shard_level_metrics.assign(stored.shard_level_metrics().begin(),
                                 stored.shard_level_metrics().end());
  out.policy = stored.policy();
  for (const auto& pc : stored.consumers()) {
    StreamConsumer& c = out.consumers.emplace_back(
        StreamConsumer{pc.name(), pc.created_ms(), pc.deleting_since_ms(), pc.policy(), {}});
    c.tags.insert(pc.tags().begin(), pc.tags().end());
  }
  return out;
}

// Streams written before attributes existed have no attrs/ key: they get the defaults.
Status StoreImpl::LoadAttributes(StreamState& stream) {
  std::string value;
  const auto s = db_->Get({}, meta_cf_, keys::AttributesKey(stream.name), &value);
  if (s.IsNotFound()) return Status::Ok();
  TL_RETURN_IF_ERROR(FromRocks(s, "reading stream attributes"));
  proto::StreamAttributes stored;
  if (!stored.ParseFromString(value)) {
    return Status::Corruption("stream attributes of " + stream.name + " do not decode");
  }
  std::lock_guard<std::mutex> lock(stream.meta_mu);
  stream.attributes = AttributesFromProto(stored);
  return Status::Ok();
}

Result<StreamAttributes> StoreImpl::GetStreamAttributes(const StreamName& name) const {
  auto stream = FindStream(name.get());
  if (!stream) return Status::NotFound("stream " + name.get() + " not found");
  std::lock_guard<std::mutex> lock(stream->meta_mu);
  return stream->attributes;
}

Status StoreImpl::UpdateStreamAttributes(const StreamName& name, const AttributesUpdate& update) {
  auto stream = FindStream(name.get());
  if (!stream) return Status::NotFound("stream " + name.get() + " not found");
  std::lock_guard<std::mutex> lock(stream->meta_mu);
  // DeleteStream marks the stream under streams_mu_ and then takes meta_mu to write DELETING:
  // checked under meta_mu, a stream still here is not deleted before this write lands.
  if (stream->deleted.load()) return Status::NotFound("stream " + name.get() + " not found");
  StreamAttributes next = stream->attributes;
  TL_RETURN_IF_ERROR(update(next));
  TL_RETURN_IF_ERROR(FromRocks(db_->Put(SyncWrite(), meta_cf_, keys::AttributesKey(name.get()),
                                        AttributesToProto(next).SerializeAsString()),
                               "writing stream attributes"));
  stream->attributes = std::move(next);
  return Status::Ok();
}

}  // namespace tideline::storage
