// Building blocks: iterator tokens, the error table.
#include <string>

#include <gtest/gtest.h>

#include "errors.h"
#include "handlers.h"
#include "iterator_token.h"
#include "request_id.h"
#include "server/options.h"

namespace tideline::server {
namespace {

TEST(IteratorTokenTest, RoundTripsAndRejectsEveryFlippedCharacter) {
  const std::string secret(32, 'k');
  IteratorPosition pos{"my-stream", 42, "shardId-000000000003", 17, 1'700'000'000'000};
  const std::string token = EncodeShardIterator(pos, secret);
  EXPECT_LE(token.size(), 512u);
  auto back = DecodeShardIterator(token, secret);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->stream_name, pos.stream_name);
  EXPECT_EQ(back->stream_uid, pos.stream_uid);
  EXPECT_EQ(back->shard_id, pos.shard_id);
  EXPECT_EQ(back->next_offset, pos.next_offset);
  EXPECT_EQ(back->issued_ms, pos.issued_ms);

  EXPECT_FALSE(DecodeShardIterator(token, std::string(32, 'j')));
  for (size_t i = 0; i < token.size(); ++i) {
    std::string bad = token;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(DecodeShardIterator(bad, secret)) << "flipped position " << i;
  }
  EXPECT_FALSE(DecodeShardIterator("", secret));
  EXPECT_FALSE(DecodeShardIterator("not a token", secret));
}

TEST(IteratorTtlTest, ShardIteratorsLiveFiveMinutesAsOnKinesis) {
  EXPECT_EQ(ServerOptions{}.iterator_ttl, std::chrono::minutes(5));
  EXPECT_EQ(HandlerContext{}.iterator_ttl, std::chrono::minutes(5));
}

TEST(ErrorTableTest, MapsStatusCodesToKinesisTypesAndHttpStatus) {
  EXPECT_EQ(ErrorTypeName(ErrorTypeForStatus(StatusCode::kNotFound)), "ResourceNotFoundException");
  EXPECT_EQ(ErrorTypeName(ErrorTypeForStatus(StatusCode::kAlreadyExists)),
            "ResourceInUseException");
  EXPECT_EQ(ErrorTypeName(ErrorTypeForStatus(StatusCode::kLimitExceeded)),
            "LimitExceededException");
  EXPECT_EQ(ErrorTypeName(ErrorTypeForStatus(StatusCode::kExpired)), "ExpiredIteratorException");
  EXPECT_EQ(ErrorTypeName(ErrorTypeForStatus(StatusCode::kIOError)), "InternalFailure");
  EXPECT_EQ(ErrorHttpStatus(ErrorTypeForStatus(StatusCode::kIOError)), 500u);
  EXPECT_EQ(ErrorHttpStatus(ErrorTypeForStatus(StatusCode::kInvalidArgument)), 400u);
  EXPECT_EQ(ErrorHttpStatus(ApiErrorType::kRequestTooLarge), 413u);
  const ApiResponse r = MakeErrorFromStatus(Status::IOError("disk \"gone\""));
  EXPECT_EQ(r.status, 500u);
  EXPECT_EQ(r.body, R"({"__type":"InternalFailure","message":"disk \"gone\""})");
}

TEST(RequestIdTest, IsAVersion4UuidAndUnique) {
  const std::string a = NewRequestId(), b = NewRequestId();
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace tideline::server
