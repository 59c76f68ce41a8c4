#include "stream_setup.h"

#include <chrono>

#include "kinesis_admin.h"

namespace tideline::fanout {

bool PrepareStream(const FanoutOptions& options, const std::vector<std::string>& consumer_names,
                   PreparedStream& out, std::string& error) {
  using std::chrono::seconds;
  loadgen::KinesisAdmin admin(options.endpoint);
  std::vector<std::string> shard_ids;
  if (!admin.CreateStream(options.stream, 1, error) ||
      !admin.WaitActive(options.stream, seconds(60), error) ||
      !admin.StreamArn(options.stream, out.arn, error) ||
      !admin.ListShardIds(options.stream, shard_ids, error)) {
    return false;
  }
  if (shard_ids.size() != 1) {
    error = "stream " + options.stream + " has " + std::to_string(shard_ids.size()) +
            " shards; the fan-out runs need a stream of one shard";
    return false;
  }
  out.shard_id = shard_ids[0];
  out.consumer_arns.clear();
  for (const std::string& name : consumer_names) {
    std::string arn;
    if (!admin.RegisterConsumer(out.arn, name, arn, error)) return false;
    out.consumer_arns.push_back(std::move(arn));
  }
  for (const std::string& arn : out.consumer_arns) {
    if (!admin.WaitConsumerActive(arn, seconds(60), error)) return false;
  }
  return true;
}

}  // namespace tideline::fanout
