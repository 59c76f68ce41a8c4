#include "store_common.h"

#include <algorithm>
#include <array>
#include <chrono>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "storage/sequence_number.h"

namespace tideline::storage {

Result<HashKey> RecordHashKey(const AppendRecord& record, size_t index) {
  if (record.explicit_hash_key.empty()) return HashKeyFromPartitionKey(record.partition_key);
  auto parsed = ParseHashKey(record.explicit_hash_key);
  if (!parsed) {
    return Status::InvalidArgument("record " + std::to_string(index) +
                                   ": ExplicitHashKey must be a decimal integer in "
                                   "[0, 2^128 - 1]");
  }
  return *parsed;
}

Result<Offset> ResolveSequenceNumber(StartingPosition position, std::string_view sequence_number,
                                     uint64_t shard_uid, const std::string& shard_id,
                                     const StreamName& stream, uint64_t last, uint64_t trim) {
  auto pos = DecodeSequenceNumber(sequence_number);
  if (!pos) {
    std::string msg = "'";
    msg.append(sequence_number.substr(0, 64)).append("' is not a valid sequence number");
    return Status::InvalidArgument(std::move(msg));
  }
  if (pos->shard_uid != shard_uid) {
    return Status::InvalidArgument("sequence number " + std::string(sequence_number) +
                                   " does not belong to " + shard_id + " of stream " +
                                   stream.get());
  }
  const bool at = position == StartingPosition::kAtSequenceNumber;
  // Offset 0 ("before the first record") is what a checkpoint holds before any record was
  // handled: valid after, never issued for at.
  if (pos->offset > last || (at && pos->offset == 0)) {
    return Status::InvalidArgument("sequence number " + std::string(sequence_number) +
                                   " was never issued in " + shard_id);
  }
  return Offset(std::max(at ? pos->offset : pos->offset + 1, trim));
}

namespace {

constexpr size_t kStreamIdLetters = 23;  // 20 + 3 around the '-'

// [a-z0-9] id from 23 bytes (each taken mod 36: a slight bias, harmless for an identifier).
std::string StreamIdFromBytes(const unsigned char* bytes) {
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string id;
  id.reserve(kStreamIdLetters + 1);
  for (size_t i = 0; i < kStreamIdLetters; ++i) {
    if (i == 20) id.push_back('-');
    id.push_back(kAlphabet[bytes[i] % kAlphabet.size()]);
  }
  return id;
}

}  // namespace

std::string NewStreamId() {
  std::array<unsigned char, kStreamIdLetters> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // No randomness: fall back to the clock, still unique enough for an id nobody routes by.
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    return DerivedStreamId("clock", static_cast<uint64_t>(now));
  }
  return StreamIdFromBytes(bytes.data());
}

std::string DerivedStreamId(std::string_view name, uint64_t uid) {
  std::string input(name);
  input += '\0';
  input += std::to_string(uid);
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return StreamIdFromBytes(digest.data());
}

}  // namespace tideline::storage
