// Options of the Kinesis-compatible HTTP API server. Validated by Server::Start.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "auth/options.h"
#include "common/aws_account.h"
#include "common/status.h"
#include "common/types.h"

namespace tideline::server {

// HTTPS on the API port (server.tls). The files are read at start and again on every reload
// (SIGHUP for `tideline serve`); see server/src/tls_context.h for what a connection may use.
struct TlsOptions {
  // PEM file: the server certificate, then any intermediate certificates. Required.
  std::string cert_file;
  // PEM file: the unencrypted private key of the certificate. Required.
  std::string key_file;
  // A connection's TLS handshake must be complete this long after the accept, so a client that
  // says nothing cannot hold a connection slot. ServerOptions::kTimeoutSeconds. Default: 10 s
  std::chrono::seconds handshake_timeout{10};
};

// Kinesis's per-shard throughput limits (server.throughput_limits), so that producers and
// consumers can test their retry logic: over a limit, PutRecord, GetRecords and
// GetShardIterator are refused and PutRecords entries fail with
// ProvisionedThroughputExceededException. Each limit allows a burst of one second's worth.
struct ThroughputLimits {
  static constexpr IntRange kBytesPerSec{1024, int64_t{1} << 40};
  static constexpr IntRange kPerSec{1, 1'000'000'000};

  // Off: nothing is counted and nothing is refused. Default: false
  bool enabled = false;
  // Record data + partition key bytes a shard takes per second. kBytesPerSec. Default: 1 MiB
  int64_t write_bytes_per_sec = int64_t{1} << 20;
  // Records a shard takes per second. kPerSec. Default: 1000
  int64_t write_records_per_sec = 1000;
  // Bytes GetRecords returns from a shard per second; one call may return up to 10 MiB, after
  // which the shard's reads are refused until the rate has caught up. kBytesPerSec.
  // Default: 2 MiB
  int64_t read_bytes_per_sec = int64_t{2} << 20;
  // GetRecords calls per shard per second. kPerSec. Default: 5
  int64_t reads_per_sec = 5;
  // GetShardIterator calls per shard per second. kPerSec. Default: 5
  int64_t shard_iterators_per_sec = 5;
};

// Every range below is checked by ValidateServerOptions and is what the configuration file's
// server section accepts (cli/src/config.cc reads the same constants).
struct ServerOptions {
  static constexpr IntRange kIoThreads{1, 64};
  static constexpr IntRange kMaxBodyBytes{1024, int64_t{1} << 30};
  static constexpr IntRange kTimeoutSeconds{1, 3600};
  static constexpr IntRange kStatusDelayMs{0, 60'000};
  static constexpr IntRange kMaxConnections{1, 1'000'000};
  static constexpr IntRange kMaxInflightBytes{1024, int64_t{64} << 30};
  static constexpr IntRange kSubscriptionDurationMs{100, 300'000};

  // Default: 127.0.0.1
  std::string host = "127.0.0.1";
  // 0 picks a free port (see Server::port()). Default: 4567
  uint16_t port = 4567;
  // Threads running the I/O context, kIoThreads. Default: 2
  int io_threads = 2;
  // Largest request body accepted; larger gets 413 with a Kinesis-shaped error. Only
  // PutRecord and PutRecords carry record data: every other request is limited to
  // kSmallBodyBytes (64 KiB). Once a stream takes records above 1 MiB (UpdateMaxRecordSize), the
  // PutRecord(s) limit rises to what its records need (~14.3 MiB for 10 MiB), capped by
  // max_inflight_bytes. kMaxBodyBytes (1 KiB..1 GiB).
  // Default: 8 MiB (a full PutRecords of 5 MiB of data is about 6.7 MiB of base64 and JSON)
  size_t max_body_bytes = 8u << 20;
  // A keep-alive connection idle this long between requests is closed; also the limit for
  // reading a body and writing a response. kTimeoutSeconds. Default: 60 s
  std::chrono::seconds idle_timeout{60};
  // A request header must be complete this long after its first byte arrived (after the accept,
  // for a connection's first request), so slow clients cannot hold connections.
  // kTimeoutSeconds. Default: 10 s
  std::chrono::seconds header_timeout{10};
  // Connections served at once. Start raises RLIMIT_NOFILE's soft limit to the hard limit and
  // lowers this (with a warning) to leave descriptors for RocksDB's files, backups and pipelines.
  // Over it, a few more connections may only ask GET /health or /metrics; beyond those the
  // server stops accepting until a connection closes. kMaxConnections. Default: 4096
  size_t max_connections = 4096;
  // Request body bytes held in memory at once, reserved from Content-Length when a header
  // arrives. A request over it is refused before its body is read: PutRecord(s) and GetRecords
  // with ProvisionedThroughputExceededException (SDKs retry it), others with
  // LimitExceededException. kMaxInflightBytes, and >= max_body_bytes. Default: 64 MiB
  uint64_t max_inflight_bytes = 64u << 20;
  // HTTPS instead of HTTP on host:port when set. Default: unset (plain HTTP)
  std::optional<TlsOptions> tls;
  // Region and 12-digit account id used in stream ARNs and messages.
  AwsAccount account;
  // Shard iterators expire this long after they were issued. Default: 5 min (Kinesis)
  std::chrono::milliseconds iterator_ttl{5 * 60 * 1000};
  // How long a registered stream consumer stays CREATING (and a deregistered one DELETING)
  // before it is ACTIVE (gone), as Kinesis's take a few seconds. Streams use the same delay
  // (storage::StoreOptions::status_delay, which the configuration file sets from this one).
  // kStatusDelayMs. Default: 500 ms
  std::chrono::milliseconds status_delay{500};
  // How long a SubscribeToShard subscription pushes records before its event stream ends and
  // the client subscribes again (with the last ContinuationSequenceNumber). Kinesis's is 5
  // minutes; shorter ones are for tests. A second SubscribeToShard for the same consumer and
  // shard is refused within 5 s of the first, or within this duration when it is shorter.
  // kSubscriptionDurationMs. Default: 300000 ms
  std::chrono::milliseconds subscription_duration{300'000};
  // Per-shard throughput limits. Default: off
  ThroughputLimits throughput_limits;
  // Who may call what (the `auth` section). Default: mode none, every request is served.
  auth::AuthOptions auth;
};

// The body limit of requests other than PutRecord and PutRecords.
inline constexpr size_t kSmallBodyBytes = 64u << 10;

// InvalidArgument naming the first option out of range as the configuration file names it,
// "io_threads: expected an integer in 1..64, got 65", or the rule two options break together.
// With tls set it also loads the certificate and key, and names the file that is missing,
// unreadable, not PEM, or whose key does not match: "tls.key_file: PATH: problem".
Status ValidateServerOptions(const ServerOptions& options);

}  // namespace tideline::server
