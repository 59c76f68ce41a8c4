// Stream attributes (storage/stream_attributes.h): stored under attrs/<name> in `meta`, beside
// the stream's own record, and changed under the stream's meta_mu.
#include <string>

#include "keys.h"
#include "store_common.h"
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
  out.set_stream_id(attributes.stream_id);
  if (attributes.max_record_size_kib != kDefaultMaxRecordSizeKiB) {
    out.set_max_record_size_kib(attributes.max_record_size_kib);
  }
  if (attributes.warm_throughput_mibps) {
    out.set_warm_throughput_mibps(*attributes.warm_throughput_mibps);
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
  out.stream_id = stored.stream_id();
  if (stored.max_record_size_kib() != 0) out.max_record_size_kib = stored.max_record_size_kib();
  if (stored.has_warm_throughput_mibps()) {
    out.warm_throughput_mibps = stored.warm_throughput_mibps();
  }
  return out;
}

// Streams written before attributes existed have no attrs/ key: they get the defaults. Those
// written before stream ids existed get the id derived from their name and uid.
Status StoreImpl::LoadAttributes(StreamState& stream) {
  std::string value;
  const auto s = db_->Get({}, meta_cf_, keys::AttributesKey(stream.name), &value);
  StreamAttributes loaded;
  if (!s.IsNotFound()) {
    TL_RETURN_IF_ERROR(FromRocks(s, "reading stream attributes"));
    proto::StreamAttributes stored;
    if (!stored.ParseFromString(value)) {
      return Status::Corruption("stream attributes of " + stream.name + " do not decode");
    }
    loaded = AttributesFromProto(stored);
  }
  if (loaded.stream_id.empty()) loaded.stream_id = DerivedStreamId(stream.name, stream.uid);
  std::lock_guard<std::mutex> lock(stream.meta_mu);
  stream.attributes = std::move(loaded);
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

Status StoreImpl::LoadAccountSettings() {
  std::string value;
  const auto s = db_->Get({}, meta_cf_, keys::kAccountSettingsKey, &value);
  if (s.IsNotFound()) return Status::Ok();
  TL_RETURN_IF_ERROR(FromRocks(s, "reading account settings"));
  proto::AccountSettings stored;
  if (!stored.ParseFromString(value)) return Status::Corruption("account settings do not decode");
  std::lock_guard<std::mutex> lock(account_mu_);
  account_ = AccountSettings{stored.commitment_enabled(), stored.commitment_started_ms(),
                             stored.commitment_earliest_end_ms(),
                             stored.commitment_disable_pending(), stored.commitment_ended_ms()};
  return Status::Ok();
}

AccountSettings StoreImpl::GetAccountSettings() const {
  std::lock_guard<std::mutex> lock(account_mu_);
  return account_;
}

Status StoreImpl::UpdateAccountSettings(const AccountSettingsUpdate& update) {
  std::lock_guard<std::mutex> lock(account_mu_);
  AccountSettings next = account_;
  TL_RETURN_IF_ERROR(update(next));
  proto::AccountSettings stored;
  stored.set_commitment_enabled(next.commitment_enabled);
  stored.set_commitment_started_ms(next.commitment_started_ms);
  stored.set_commitment_earliest_end_ms(next.commitment_earliest_end_ms);
  stored.set_commitment_disable_pending(next.commitment_disable_pending);
  stored.set_commitment_ended_ms(next.commitment_ended_ms);
  TL_RETURN_IF_ERROR(FromRocks(
      db_->Put(SyncWrite(), meta_cf_, keys::kAccountSettingsKey, stored.SerializeAsString()),
      "writing account settings"));
  account_ = next;
  return Status::Ok();
}

}  // namespace tideline::storage
