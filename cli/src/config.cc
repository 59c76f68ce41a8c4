// Strict YAML loading of the tideline configuration. See cli/config.h.
#include "cli/config.h"

#include "config_parse.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <vector>

namespace tideline::cli {
namespace {

using namespace config_parse;  // NOLINT(google-build-using-namespace): the section helpers

constexpr uint64_t kMiB = 1u << 20;

const std::vector<std::string> kLogLevels = {"trace", "debug", "info", "warn", "error", "off"};

Status ParseListen(const Field& f, server::ServerOptions& out) {
  std::string text;
  TL_RETURN_IF_ERROR(ParseString(f, text));
  const std::optional<ListenAddress> addr = ParseListenAddress(text);
  if (!addr) return f.Error("expected HOST:PORT with a port in 0..65535, got " + Describe(f.value));
  out.host = addr->host;
  out.port = addr->port;
  return Status::Ok();
}

// An integer option whose range the options struct declares.
template <typename T>
Status ParseIn(const Field& f, IntRange range, T& out) {
  return ParseInteger(f, range.min, range.max, out);
}

Status ParseSeconds(const Field& f, IntRange range, std::chrono::seconds& out) {
  int64_t seconds = 0;
  TL_RETURN_IF_ERROR(ParseInteger(f, range.min, range.max, seconds));
  out = std::chrono::seconds(seconds);
  return Status::Ok();
}

// A schema entry that also notes the key's Field in `set` (for AtKey) before parsing it.
std::pair<std::string, FieldParser> Recorded(std::map<std::string, Field>& set, std::string name,
                                             FieldParser parse) {
  return {name, [&set, name, parse = std::move(parse)](const Field& x) {
            set.insert_or_assign(name, x);
            return parse(x);
          }};
}

// Reports `status`, an options struct's "key: problem", at the line of that key when the section
// set it, else at the section.
Status AtKey(const Field& section, const std::map<std::string, Field>& set, const Status& status) {
  if (status.ok()) return status;
  const std::string& message = status.message();
  const size_t colon = message.find(": ");
  if (colon != std::string::npos) {
    if (auto it = set.find(message.substr(0, colon)); it != set.end()) {
      return it->second.Error(message.substr(colon + 2));
    }
  }
  return section.Error(message);
}

// region or account_id: the rule is AwsAccount::Validate's.
Status ParseAccountMember(const Field& f, const AwsAccount& account, std::string& member) {
  TL_RETURN_IF_ERROR(ParseString(f, member));
  const Status valid = account.Validate();
  if (valid.ok()) return valid;
  const std::string_view message = valid.message();
  const size_t colon = message.find(": ");
  // Only this member's own problem: the other one may still be unset (a default) or reported.
  if (message.substr(0, colon) != f.key.Scalar()) return Status::Ok();
  return f.Error(std::string(message.substr(colon + 2)));
}

Status ParseNonEmpty(const Field& f, std::string& out) {
  TL_RETURN_IF_ERROR(ParseString(f, out));
  if (out.empty()) return f.Error("expected a non-empty string");
  return Status::Ok();
}

Status ParseDurability(const Field& f, storage::Durability& out) {
  std::string name;
  TL_RETURN_IF_ERROR(ParseChoice(f, {"fsync", "none"}, name));
  out = name == "fsync" ? storage::Durability::kFsync : storage::Durability::kNone;
  return Status::Ok();
}

// server.tls. Its keys are noted in `set` as "tls.KEY", the names ValidateServerOptions gives
// them, so that a file it cannot load is reported at that key's line.
Status ParseTls(std::string_view file, const Field& f, std::map<std::string, Field>& set,
                server::TlsOptions& tls) {
  const auto key = [&set](std::string name, FieldParser parse) {
    auto entry = Recorded(set, "tls." + name, std::move(parse));
    entry.first = std::move(name);
    return entry;
  };
  const Schema schema = {
      key("cert_file", [&](const Field& x) { return ParseNonEmpty(x, tls.cert_file); }),
      key("key_file", [&](const Field& x) { return ParseNonEmpty(x, tls.key_file); }),
      key("handshake_timeout_s",
          [&](const Field& x) {
            return ParseSeconds(x, server::ServerOptions::kTimeoutSeconds, tls.handshake_timeout);
          }),
  };
  TL_RETURN_IF_ERROR(ParseMap(file, f.path, f.key, f.value, schema));
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return f.Error("cert_file and key_file are both required for HTTPS");
  }
  return Status::Ok();
}

// server.throughput_limits. Every key is range-checked as it is read.
Status ParseThroughputLimits(std::string_view file, const Field& f, server::ThroughputLimits& t) {
  using T = server::ThroughputLimits;
  const Schema schema = {
      {"enabled", [&](const Field& x) { return ParseBool(x, t.enabled); }},
      {"write_bytes_per_sec",
       [&](const Field& x) { return ParseIn(x, T::kBytesPerSec, t.write_bytes_per_sec); }},
      {"write_records_per_sec",
       [&](const Field& x) { return ParseIn(x, T::kPerSec, t.write_records_per_sec); }},
      {"read_bytes_per_sec",
       [&](const Field& x) { return ParseIn(x, T::kBytesPerSec, t.read_bytes_per_sec); }},
      {"reads_per_sec", [&](const Field& x) { return ParseIn(x, T::kPerSec, t.reads_per_sec); }},
      {"shard_iterators_per_sec",
       [&](const Field& x) { return ParseIn(x, T::kPerSec, t.shard_iterators_per_sec); }},
  };
  return ParseMap(file, f.path, f.key, f.value, schema);
}

Status ParseServer(std::string_view file, const Field& f, server::ServerOptions& s) {
  using O = server::ServerOptions;
  std::map<std::string, Field> set;  // the keys the file sets, for AtKey
  const auto key = [&set](std::string name, FieldParser parse) {
    return Recorded(set, std::move(name), std::move(parse));
  };
  const Schema schema = {
      key("listen", [&](const Field& x) { return ParseListen(x, s); }),
      key("region",
          [&](const Field& x) { return ParseAccountMember(x, s.account, s.account.region); }),
      key("account_id",
          [&](const Field& x) { return ParseAccountMember(x, s.account, s.account.account_id); }),
      key("io_threads", [&](const Field& x) { return ParseIn(x, O::kIoThreads, s.io_threads); }),
      key("max_body_bytes",
          [&](const Field& x) { return ParseIn(x, O::kMaxBodyBytes, s.max_body_bytes); }),
      key("idle_timeout_s",
          [&](const Field& x) { return ParseSeconds(x, O::kTimeoutSeconds, s.idle_timeout); }),
      key("header_timeout_s",
          [&](const Field& x) { return ParseSeconds(x, O::kTimeoutSeconds, s.header_timeout); }),
      key("max_connections",
          [&](const Field& x) { return ParseIn(x, O::kMaxConnections, s.max_connections); }),
      key("max_inflight_bytes",
          [&](const Field& x) { return ParseIn(x, O::kMaxInflightBytes, s.max_inflight_bytes); }),
      key("tls", [&](const Field& x) { return ParseTls(file, x, set, s.tls.emplace()); }),
      key("throughput_limits",
          [&](const Field& x) { return ParseThroughputLimits(file, x, s.throughput_limits); }),
      key("status_delay_ms",
          [&](const Field& x) {
            int64_t ms = 0;
            TL_RETURN_IF_ERROR(ParseInteger(x, O::kStatusDelayMs.min, O::kStatusDelayMs.max, ms));
            s.status_delay = std::chrono::milliseconds(ms);
            return Status::Ok();
          }),
      key("subscription_duration_ms",
          [&](const Field& x) {
            int64_t ms = 0;
            TL_RETURN_IF_ERROR(ParseInteger(x, O::kSubscriptionDurationMs.min,
                                            O::kSubscriptionDurationMs.max, ms));
            s.subscription_duration = std::chrono::milliseconds(ms);
            return Status::Ok();
          }),
  };
  TL_RETURN_IF_ERROR(ParseMap(file, f.path, f.key, f.value, schema));
  // The rules that involve several options (max_inflight_bytes >= max_body_bytes).
  return AtKey(f, set, server::ValidateServerOptions(s));
}

// A size option the file gives in MiB.
template <typename T>
Status ParseMib(const Field& f, IntRange mib, T& bytes) {
  int64_t value = 0;
  TL_RETURN_IF_ERROR(ParseInteger(f, mib.min, mib.max, value));
  bytes = static_cast<T>(static_cast<uint64_t>(value) * kMiB);
  return Status::Ok();
}

Status ParseStorage(std::string_view file, const Field& f, storage::StoreOptions& s) {
  using O = storage::StoreOptions;
  std::map<std::string, Field> set;  // the keys the file sets, for AtKey
  const auto key = [&set](std::string name, FieldParser parse) {
    return Recorded(set, std::move(name), std::move(parse));
  };
  const Schema schema = {
      key("data_dir",
          [&](const Field& x) {
            std::string dir;
            TL_RETURN_IF_ERROR(ParseNonEmpty(x, dir));
            s.data_dir = dir;
            return Status::Ok();
          }),
      key("durability", [&](const Field& x) { return ParseDurability(x, s.durability); }),
      key("shard_limit", [&](const Field& x) { return ParseIn(x, O::kShardLimit, s.shard_limit); }),
      key("trim_interval_s",
          [&](const Field& x) {
            std::chrono::seconds seconds{};
            TL_RETURN_IF_ERROR(ParseSeconds(x, O::kTrimIntervalSeconds, seconds));
            s.trim_interval = seconds;
            return Status::Ok();
          }),
      key("reshard_updating_delay_ms",
          [&](const Field& x) {
            int64_t ms = 0;
            TL_RETURN_IF_ERROR(ParseInteger(x, O::kReshardUpdatingDelayMs.min,
                                            O::kReshardUpdatingDelayMs.max, ms));
            s.reshard_updating_delay = std::chrono::milliseconds(ms);
            return Status::Ok();
          }),
      key("block_cache_mib",
          [&](const Field& x) { return ParseMib(x, O::kBlockCacheMib, s.block_cache_bytes); }),
      key("min_free_mib",
          [&](const Field& x) { return ParseMib(x, O::kMinFreeMib, s.min_free_bytes); }),
      key("max_queued_append_mib",
          [&](const Field& x) {
            return ParseMib(x, O::kMaxQueuedAppendMib, s.max_queued_append_bytes);
          }),
  };
  TL_RETURN_IF_ERROR(ParseMap(file, f.path, f.key, f.value, schema));
  return AtKey(f, set, storage::ValidateStoreOptions(s));
}

Status ParseLogging(std::string_view file, const Field& f, LoggingConfig& l) {
  const Schema schema = {
      {"level", [&](const Field& x) { return ParseChoice(x, kLogLevels, l.level); }},
  };
  return ParseMap(file, f.path, f.key, f.value, schema);
}

Status ParseDocument(std::string_view file, const YAML::Node& root, Config& config) {
  const Schema schema = {
      {"server", [&](const Field& f) { return ParseServer(file, f, config.server); }},
      {"storage", [&](const Field& f) { return ParseStorage(file, f, config.storage); }},
      {"logging", [&](const Field& f) { return ParseLogging(file, f, config.logging); }},
      {"pipelines", [&](const Field& f) { return ParsePipelines(file, f, config.pipelines); }},
      {"auth", [&](const Field& f) { return ParseAuth(f, config.server.auth); }},
  };
  TL_RETURN_IF_ERROR(ParseMap(file, "", root, root, schema));
  // One delay for every CREATING/DELETING state: consumers (the API) and streams (the store).
  config.storage.status_delay = config.server.status_delay;
  return Status::Ok();
}

// Notes where each document starts, and builds nothing.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The file must hold at most one document. YAML::LoadAll would tell, but yaml-cpp 0.7 loops
// forever there, allocating, on a stray flow indicator such as a lone `,` (a document the parser
// cannot consume is reported again and again): so count at most two documents, and call a
// second document that starts where the first did what it is, a syntax error.
// Returns the number of documents (0 or 1).
Result<size_t> CountDocuments(const std::string& text, std::string_view file_name) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts starts;
  while (starts.starts.size() < 2 && parser.HandleNextDocument(starts)) {
  }
  if (starts.starts.size() < 2) return starts.starts.size();
  const YAML::Mark& second = starts.starts[1];
  const std::string where = std::string(file_name) + ":" + std::to_string(second.line + 1);
  if (second.pos == starts.starts[0].pos) {
    return Status::InvalidArgument(where + ":" + std::to_string(second.column + 1) +
                                   ": YAML syntax error: unexpected character");
  }
  return Status::InvalidArgument(where + ": expected a single YAML document, found several");
}

}  // namespace

Result<Config> ParseConfig(std::string_view text, std::string_view file_name) {
  Config config;
  try {
    const std::string owned(text);
    const Result<size_t> documents = CountDocuments(owned, file_name);
    if (!documents.ok()) return documents.status();
    if (*documents == 0) return config;
    TL_RETURN_IF_ERROR(ParseDocument(file_name, YAML::Load(owned), config));
  } catch (const YAML::Exception& e) {
    const int line = e.mark.line >= 0 ? e.mark.line + 1 : 1;
    const int column = e.mark.column >= 0 ? e.mark.column + 1 : 1;
    return Status::InvalidArgument(std::string(file_name) + ":" + std::to_string(line) + ":" +
                                   std::to_string(column) + ": YAML syntax error: " + e.msg);
  }
  return config;
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot read the configuration file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidArgument(path + ": error reading the configuration file");
  return ParseConfig(text.str(), path);
}

Status ApplyOverrides(const ConfigOverrides& o, Config& config) {
  if (o.data_dir) {
    if (o.data_dir->empty()) return Status::InvalidArgument("--data-dir: expected a directory");
    config.storage.data_dir = *o.data_dir;
  }
  if (o.listen) {
    if (!ParseListenAddress(*o.listen)) {
      return Status::InvalidArgument(
          "--listen: expected HOST:PORT with a port in 0..65535, got \"" + *o.listen + "\"");
    }
    const ListenAddress addr = *ParseListenAddress(*o.listen);
    config.server.host = addr.host;
    config.server.port = addr.port;
  }
  if (o.durability) {
    if (*o.durability == "fsync") {
      config.storage.durability = storage::Durability::kFsync;
    } else if (*o.durability == "none") {
      config.storage.durability = storage::Durability::kNone;
    } else {
      return Status::InvalidArgument("--durability: expected one of fsync, none, got \"" +
                                     *o.durability + "\"");
    }
  }
  if (o.log_level) {
    bool known = false;
    for (const auto& l : kLogLevels)
      known = known || l == *o.log_level;
    if (!known) {
      return Status::InvalidArgument(
          "--log-level: expected one of trace, debug, info, warn, error, off, got \"" +
          *o.log_level + "\"");
    }
    config.logging.level = *o.log_level;
  }
  if (o.iterator_ttl_ms) {
    if (*o.iterator_ttl_ms <= 0) {
      return Status::InvalidArgument("--iterator-ttl-ms: expected a positive number of ms");
    }
    config.server.iterator_ttl = std::chrono::milliseconds(*o.iterator_ttl_ms);
  }
  return Status::Ok();
}

std::optional<ListenAddress> ParseListenAddress(std::string_view text) {
  ListenAddress addr;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    addr.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    addr.host = std::string(text.substr(0, colon));
    if (addr.host.find(':') != std::string::npos) return std::nullopt;  // bare IPv6
    port = text.substr(colon + 1);
  }
  // Brackets only delimit an IPv6 literal; inside a host they are no address ("[[]:0").
  if (addr.host.empty() || port.empty() || addr.host.find_first_of("[]") != std::string::npos) {
    return std::nullopt;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  addr.port = static_cast<uint16_t>(value);
  return addr;
}

std::string_view DurabilityName(storage::Durability durability) {
  return durability == storage::Durability::kFsync ? "fsync" : "none";
}

std::string FormatListenAddress(const server::ServerOptions& options) {
  const bool v6 = options.host.find(':') != std::string::npos;
  return (v6 ? "[" + options.host + "]" : options.host) + ":" + std::to_string(options.port);
}

}  // namespace tideline::cli
