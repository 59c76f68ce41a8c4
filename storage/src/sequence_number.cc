#include "storage/sequence_number.h"

#include <algorithm>

namespace tideline {
namespace {

__extension__ typedef unsigned __int128 u128;

}  // namespace

SequenceNumber EncodeSequenceNumber(SequencePosition pos) {
  // 10^39 does not fit in 128 bits, but V < 2^128 < 10^39 does: print V as 39 zero-padded
  // digits behind a leading '1', which is exactly 10^39 + V.
  u128 v = (static_cast<u128>(pos.shard_uid) << 64) | pos.offset;
  std::string out(kSequenceNumberDigits, '0');
  out[0] = '1';
  for (size_t i = kSequenceNumberDigits; i-- > 1;) {
    out[i] = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  }
  return SequenceNumber(std::move(out));
}

std::optional<SequencePosition> DecodeSequenceNumber(std::string_view s) {
  if (s.size() != kSequenceNumberDigits) return std::nullopt;
  // 10^39 + V with V < 2^128 < 10^39 always starts with '1'.
  if (s[0] != '1') return std::nullopt;
  constexpr u128 kMax = ~static_cast<u128>(0);
  u128 v = 0;
  for (size_t i = 1; i < s.size(); ++i) {
    const char c = s[i];
    if (c < '0' || c > '9') return std::nullopt;
    const unsigned digit = static_cast<unsigned>(c - '0');
    if (v > (kMax - digit) / 10) return std::nullopt;
    v = v * 10 + digit;
  }
  return SequencePosition{static_cast<uint64_t>(v >> 64), static_cast<uint64_t>(v)};
}

SequenceNumber SequenceNumberOf(ShardUid shard, Offset offset) {
  return EncodeSequenceNumber({shard.get(), offset.get()});
}

std::optional<Offset> OffsetInShard(ShardUid shard, std::string_view sequence_number) {
  const std::optional<SequencePosition> pos = DecodeSequenceNumber(sequence_number);
  if (!pos || pos->shard_uid != shard.get()) return std::nullopt;
  return Offset(pos->offset);
}

}  // namespace tideline
