// Pipeline lifecycle: building the parts, the supervisor thread, stop, and status.
#include "common/clock.h"
#include "core/pipeline_impl.h"

namespace tideline::pipeline {
namespace {

constexpr std::chrono::milliseconds kStreamPoll{1000};
constexpr std::chrono::milliseconds kDrainTimeout{5000};

size_t BufferMemoryLimit(const BufferOptions& b) {
  // A buffered batch holds its data, the transformed documents and block slack: about 3.3x the
  // data for access logs. Eight times the flush size lets one full flush be delivered while the
  // next one gathers, so readers are held back only when delivery really falls behind.
  return std::max<size_t>(size_t{8} * b.size_mib << 20, 32u << 20);
}

}  // namespace

Result<std::unique_ptr<Processor>> MakeProcessor(const ProcessorOptions& processor,
                                                 const PipelineOptions& pipeline) {
  return std::visit(
      [&](const auto& o) -> Result<std::unique_ptr<Processor>> {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, AccessLogOptions>) {
          return MakeAccessLogProcessor(o);
        } else if constexpr (std::is_same_v<T, GeoIpOptions>) {
          return MakeGeoIpProcessor(o);
        } else if constexpr (std::is_same_v<T, std::monostate>) {
          return MakeJsonProcessor();
        } else if constexpr (std::is_same_v<T, FieldsOptions>) {
          return MakeFieldsProcessor(o);
        } else {
          LambdaOptions lambda = o;
          lambda.pipeline_name = pipeline.name;
          lambda.account = pipeline.account;
          return MakeLambdaProcessor(lambda);
        }
      },
      processor.options);
}

Result<std::unique_ptr<Pipeline>> Pipeline::Start(const PipelineOptions& options,
                                                  storage::Store& store) {
  TL_RETURN_IF_ERROR(ValidatePipelineOptions(options));
  std::vector<std::unique_ptr<Processor>> processors;
  for (size_t i = 0; i < options.processors.size(); ++i) {
    auto p = MakeProcessor(options.processors[i], options);
    if (!p.ok()) {
      return Status(p.status().code(), "pipeline " + options.name + ": processor " +
                                           std::to_string(i + 1) + ": " + p.status().message());
    }
    processors.push_back(std::move(*p));
  }
  auto destination = std::visit(
      [&](const auto& o) -> Result<std::unique_ptr<Destination>> {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, FileDestinationOptions>) {
          return MakeFileDestination(o, options.name, options.max_document_depth);
        } else {
          return MakeOpenSearchDestination(o, options.max_document_depth);
        }
      },
      options.destination.options);
  if (!destination.ok()) {
    return Status(destination.status().code(),
                  "pipeline " + options.name + ": destination: " + destination.status().message());
  }
  return StartWith(options, store, std::move(processors), std::move(*destination));
}

Result<std::unique_ptr<Pipeline>> Pipeline::StartWith(
    const PipelineOptions& options, storage::Store& store,
    std::vector<std::unique_ptr<Processor>> processors, std::unique_ptr<Destination> destination) {
  TL_RETURN_IF_ERROR(ValidatePipelineOptions(options));
  auto backup = BackupWriter::Open(options.backup, options.name, destination->type());
  if (!backup.ok()) {
    return Status(backup.status().code(),
                  "pipeline " + options.name + ": backup: " + backup.status().message());
  }
  auto p = std::make_unique<PipelineImpl>(options, store, std::move(processors),
                                          std::move(destination), std::move(*backup));
  p->Start();
  return std::unique_ptr<Pipeline>(std::move(p));
}

PipelineImpl::PipelineImpl(PipelineOptions options, storage::Store& store,
                           std::vector<std::unique_ptr<Processor>> processors,
                           std::unique_ptr<Destination> destination,
                           std::unique_ptr<BackupWriter> backup)
    : options_(std::move(options)),
      store_(store),
      log_(PipelineLogger()),
      processors_(std::move(processors)),
      destination_(std::move(destination)),
      backup_(std::move(backup)),
      buffer_(size_t{options_.buffer.size_mib} << 20,
              std::chrono::seconds(options_.buffer.interval_s),
              BufferMemoryLimit(options_.buffer)) {}

PipelineImpl::~PipelineImpl() {
  Stop();
}

void PipelineImpl::Start() {
  StartThreads();
  log_->info("pipeline {}: started ({} -> {} processors -> {})", options_.name,
             options_.source.stream.get(), processors_.size(), destination_->type());
}

void PipelineImpl::StartThreads() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    delivery_done_ = false;
  }
  drain_ = std::stop_source();
  delivery_ = std::jthread([this](std::stop_token stop) { DeliverLoop(stop); });
  supervisor_ = std::jthread([this](std::stop_token stop) { Supervise(stop); });
}

void PipelineImpl::StopThreads() {
  // Readers first, so nothing new enters the buffer; then the last flush, bounded in time.
  supervisor_.request_stop();
  store_.WakeWaiters();
  if (supervisor_.joinable()) supervisor_.join();
  delivery_.request_stop();
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!delivery_done_cv_.wait_for(lock, kDrainTimeout, [&] { return delivery_done_; })) {
      log_->warn(
          "pipeline {}: last delivery did not finish in {} ms; its records will be "
          "delivered again after restart",
          options_.name, kDrainTimeout.count());
      drain_.request_stop();
    }
  }
  if (delivery_.joinable()) delivery_.join();
}

void PipelineImpl::Stop() {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_) return;
  stopped_ = true;
  StopThreads();
  // No reader runs now: Lambda subprocesses end with the pipeline, not with its destructor.
  for (const auto& processor : processors_)
    processor->Shutdown();
  SetState(PipelineState::kStopped, "");
}

Status PipelineImpl::Reset(const storage::StreamPosition& position) {
  std::lock_guard<std::mutex> lock(lifecycle_mu_);
  if (stopped_) return Status::Unavailable("pipeline " + options_.name + " is stopped");
  // Resolved before anything stops, so a bad position changes nothing.
  auto checkpoints = ResetCheckpoints(position);
  if (!checkpoints.ok()) return checkpoints.status();
  // From here on nothing read before the reset moves a checkpoint: not the flush in delivery
  // (its checkpoint write, if already under way, finishes before the bump), not what is still
  // buffered (dropped when the new delivery thread takes it).
  {
    std::lock_guard<std::mutex> cp_lock(checkpoint_mu_);
    epoch_.fetch_add(1, std::memory_order_acq_rel);
  }
  StopThreads();
  Status st;
  {
    std::lock_guard<std::mutex> cp_lock(checkpoint_mu_);
    st =
        store_.SetCheckpoints(CheckpointOwner(options_.name), options_.source.stream, *checkpoints);
  }
  if (st.ok()) {
    for (const auto& cp : *checkpoints) {
      log_->info("pipeline {}: reset {} to after {}", options_.name, cp.shard.get(),
                 cp.sequence_number.get());
    }
  } else {
    log_->error("pipeline {}: reset failed, resuming from the old checkpoints: {}", options_.name,
                st.ToString());
  }
  StartThreads();
  return st;
}

void PipelineImpl::SetState(PipelineState state, std::string message) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != state) {
    log_->info("pipeline {}: {}{}{}", options_.name, PipelineStateName(state),
               message.empty() ? "" : ": ", message);
  }
  state_ = state;
  message_ = std::move(message);
}

ShardStats& PipelineImpl::StatsFor(const std::string& shard_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& slot = shards_[shard_id];
  if (!slot) slot = std::make_unique<ShardStats>();
  return *slot;
}

void PipelineImpl::Supervise(std::stop_token stop) {
  const StreamName& stream = options_.source.stream;
  while (!stop.stop_requested()) {
    auto info = store_.DescribeStream(stream);
    // A stream being deleted has no shards left to read: wait for the name to be free again.
    if (info.ok() && info->status == storage::StreamStatus::kDeleting) {
      info = Status::NotFound("stream " + stream.get() + " is being deleted");
    }
    if (!info.ok()) {
      if (info.status().code() == StatusCode::kNotFound) {
        SetState(PipelineState::kWaitingForStream,
                 "stream " + stream.get() + " does not exist yet");
      } else {
        log_->error("pipeline {}: describing {}: {}", options_.name, stream.get(),
                    info.status().ToString());
      }
      WaitUnlessStopped(stop, kStreamPoll);
      continue;
    }
    SetState(PipelineState::kRunning, "");
    // Every shard gets its starting checkpoint before any reader runs, so that a child's
    // start (InitCheckpoints) and its parents' progress are decided from the same state.
    if (!InitCheckpoints(*info)) {
      WaitUnlessStopped(stop, kStreamPoll);
      continue;
    }
    // One reader per shard, closed ones too (they end at the shard's end); a reshard adds
    // readers for the shards it made and leaves the others alone, so nothing is read twice.
    // When the stream is deleted (and perhaps created again under the same name) every reader
    // starts again.
    std::map<std::string, std::jthread> readers;
    const auto start_readers = [&](const storage::StreamInfo& now) {
      for (const storage::ShardInfo& shard : now.shards) {
        if (readers.contains(shard.id.get())) continue;
        ShardSource source{shard.id, shard.uid, &StatsFor(shard.id.get()), {}};
        for (const std::string& parent : {shard.parent_shard_id, shard.adjacent_parent_shard_id}) {
          if (!parent.empty()) source.parents.emplace_back(parent);
        }
        readers.emplace(shard.id.get(),
                        std::jthread([this, source](std::stop_token s) { ReadShard(s, source); }));
      }
    };
    start_readers(*info);
    const auto has_new_shards = [&readers](const storage::StreamInfo& now) {
      for (const storage::ShardInfo& shard : now.shards) {
        if (!readers.contains(shard.id.get())) return true;
      }
      return false;
    };
    while (WaitUnlessStopped(stop, kStreamPoll)) {
      auto now = store_.DescribeStream(stream);
      if (!now.ok() || now->uid != info->uid) break;
      // Retried at the next poll when the starting checkpoints cannot be written yet.
      if (has_new_shards(*now) && InitCheckpoints(*now)) start_readers(*now);
    }
    for (auto& [id, r] : readers)
      r.request_stop();
    store_.WakeWaiters();
    readers.clear();  // joins
  }
}

PipelineStatus PipelineImpl::GetStatus() const {
  PipelineStatus s;
  s.name = options_.name;
  s.stream = options_.source.stream.get();
  s.destination = destination_->description();
  const FlushBuffer::Stats buffered = buffer_.stats();
  s.buffered_records = buffered.records;
  s.buffered_bytes = buffered.data_bytes;
  s.flushes = flushes_.load(std::memory_order_relaxed);
  if (buffered.oldest_arrival_ms != 0) {
    s.data_freshness_ms = std::max<int64_t>(0, WallClockMs() - buffered.oldest_arrival_ms);
  }
  s.destination_type = destination_->type();
  s.destination_counters = destination_->counters();
  const BackupWriter::Counts backed_up = backup_->committed();
  s.backup_processing_failed = backed_up.processing_failed;
  s.backup_delivery_failed = backed_up.delivery_failed;
  s.backup_all_documents = backed_up.all;
  for (const auto& b : read_delay_) {
    s.read_delay_buckets.push_back(b.load(std::memory_order_relaxed));
    s.read_delay_count += s.read_delay_buckets.back();
  }
  // Cumulative, as Prometheus histograms are.
  for (size_t i = 1; i < s.read_delay_buckets.size(); ++i)
    s.read_delay_buckets[i] += s.read_delay_buckets[i - 1];

  std::map<std::string, storage::Checkpoint> checkpoints;
  for (auto& cp : store_.ListCheckpoints(CheckpointOwner(options_.name))) {
    if (cp.stream == options_.source.stream) checkpoints[cp.shard.get()] = std::move(cp);
  }
  const std::string retrying = destination_->retrying();
  std::lock_guard<std::mutex> lock(mu_);
  s.state = state_;
  s.message = message_;
  if (s.state == PipelineState::kRunning && !retrying.empty()) {
    // Delivering, but the destination is retrying failures within its retry duration.
    s.state = PipelineState::kRetrying;
    s.message = "destination: " + retrying;
  }
  for (const auto& [id, st] : shards_) {
    ShardStatus& sh = s.shards.emplace_back();
    sh.shard_id = id;
    if (auto it = checkpoints.find(id); it != checkpoints.end()) {
      sh.checkpoint = it->second.sequence_number.get();
      sh.checkpoint_offset = it->second.offset.get();
    }
    sh.last_offset = st->last_offset.load(std::memory_order_relaxed);
    const uint64_t next = st->next_offset.load(std::memory_order_relaxed);
    if (next <= sh.last_offset) {
      sh.millis_behind_latest =
          std::max<int64_t>(0, st->last_arrival_ms.load(std::memory_order_relaxed) -
                                   st->read_arrival_ms.load(std::memory_order_relaxed));
    }
    ShardCounters& c = sh.counters;
    c.records_read = st->records_read.load(std::memory_order_relaxed);
    c.bytes_read = st->bytes_read.load(std::memory_order_relaxed);
    c.records_transformed = st->records_transformed.load(std::memory_order_relaxed);
    c.records_dropped = st->records_dropped.load(std::memory_order_relaxed);
    c.records_processing_failed = st->records_processing_failed.load(std::memory_order_relaxed);
    c.records_delivered = st->records_delivered.load(std::memory_order_relaxed);
    c.records_delivery_failed = st->records_delivery_failed.load(std::memory_order_relaxed);
    c.records_expired = st->records_expired.load(std::memory_order_relaxed);
    c.read_errors = st->read_errors.load(std::memory_order_relaxed);
    switch (st->phase.load(std::memory_order_relaxed)) {
      case ShardPhase::kReading:
        break;
      case ShardPhase::kWaitingForParents:
        sh.state = "waiting_for_parents";
        sh.waiting_for = st->waiting_for;
        break;
      case ShardPhase::kFinished:
        sh.state = "finished";
        break;
    }
    if (st->read_failing.load(std::memory_order_relaxed)) {
      sh.state = "read_failing";
      sh.last_error = st->read_error;
    }
  }
  return s;
}

}  // namespace tideline::pipeline
