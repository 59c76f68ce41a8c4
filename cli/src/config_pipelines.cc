// The `pipelines:` section of the configuration: each item becomes a PipelineOptions.
#include <cstdlib>

#include "cli/commands.h"
#include "config_parse.h"
#include "pipeline/options.h"

namespace tideline::cli::config_parse {
namespace {

using pipeline::PipelineOptions;

Status ParseNonEmptyString(const Field& f, std::string& out) {
  TL_RETURN_IF_ERROR(ParseString(f, out));
  if (out.empty()) return f.Error("expected a non-empty string");
  return Status::Ok();
}

// A list whose items are parsed by `item` (with the item's own Field, path "x[3]").
Status ParseList(const Field& f, const std::function<Status(const Field&)>& item) {
  if (f.value.IsNull()) return Status::Ok();
  if (!f.value.IsSequence()) return f.Error("expected a list, got " + Describe(f.value));
  for (size_t i = 0; i < f.value.size(); ++i) {
    const Field it{f.file, f.path + "[" + std::to_string(i) + "]", f.value[i], f.value[i]};
    TL_RETURN_IF_ERROR(item(it));
  }
  return Status::Ok();
}

Status ParseStringList(const Field& f, std::vector<std::string>& out) {
  return ParseList(f, [&](const Field& it) {
    std::string s;
    TL_RETURN_IF_ERROR(ParseNonEmptyString(it, s));
    out.push_back(std::move(s));
    return Status::Ok();
  });
}

// A map of non-empty strings to strings, in file order.
Status ParseStringPairs(const Field& f, std::vector<std::pair<std::string, std::string>>& out) {
  if (f.value.IsNull()) return Status::Ok();
  if (!f.value.IsMap()) return f.Error("expected a map, got " + Describe(f.value));
  for (auto it = f.value.begin(); it != f.value.end(); ++it) {
    std::string k;
    TL_RETURN_IF_ERROR(ParseNonEmptyString({f.file, f.path, it->first, it->first}, k));
    const Field value{f.file, f.path + "." + k, it->first, it->second};
    std::string v;
    TL_RETURN_IF_ERROR(ParseString(value, v));
    out.emplace_back(std::move(k), std::move(v));
  }
  return Status::Ok();
}

Status ParseMetadata(const Field& f,
                     std::vector<std::pair<std::string, pipeline::MetadataField>>& out) {
  std::vector<std::pair<std::string, std::string>> pairs;
  TL_RETURN_IF_ERROR(ParseStringPairs(f, pairs));
  const std::pair<const char*, pipeline::MetadataField> names[] = {
      {"sequence_number", pipeline::MetadataField::kSequenceNumber},
      {"shard_id", pipeline::MetadataField::kShardId},
      {"partition_key", pipeline::MetadataField::kPartitionKey},
      {"stream", pipeline::MetadataField::kStream},
      {"arrival_timestamp", pipeline::MetadataField::kArrivalTimestamp},
      {"arrival_timestamp_ms", pipeline::MetadataField::kArrivalTimestampMs},
  };
  size_t i = 0;
  for (auto it = f.value.begin(); it != f.value.end(); ++it, ++i) {
    const auto& [target, name] = pairs[i];
    bool found = false;
    for (const auto& [n, field] : names) {
      if (name == n) {
        out.emplace_back(target, field);
        found = true;
      }
    }
    if (!found) {
      return Field{f.file, f.path + "." + target, it->first, it->second}.Error(
          "expected one of sequence_number, shard_id, partition_key, stream, arrival_timestamp, "
          "arrival_timestamp_ms, got \"" +
          name + "\"");
    }
  }
  return Status::Ok();
}

Status ParseLambda(const Field& f, pipeline::LambdaOptions& o) {
  int64_t timeout_ms = o.timeout.count();
  const Schema schema = {
      {"type", [](const Field&) { return Status::Ok(); }},
      {"url", [&](const Field& x) { return ParseNonEmptyString(x, o.url); }},
      {"command", [&](const Field& x) { return ParseStringList(x, o.command); }},
      {"max_batch_bytes",
       [&](const Field& x) { return ParseInteger(x, 1024, 6'000'000, o.max_batch_bytes); }},
      {"max_batch_records",
       [&](const Field& x) { return ParseInteger(x, 1, 10'000, o.max_batch_records); }},
      {"retries", [&](const Field& x) { return ParseInteger(x, 0, 300, o.retries); }},
      {"timeout_ms", [&](const Field& x) { return ParseInteger(x, 1, 900'000, timeout_ms); }},
      {"environment", [&](const Field& x) { return ParseStringPairs(x, o.environment); }},
      {"inherit_environment",
       [&](const Field& x) { return ParseStringList(x, o.inherit_environment); }},
  };
  TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, schema));
  o.timeout = std::chrono::milliseconds(timeout_ms);
  if (o.url.empty() == o.command.empty()) {
    return f.Error("a lambda processor needs exactly one of url or command");
  }
  if (o.command.empty() && (!o.environment.empty() || !o.inherit_environment.empty())) {
    return f.Error("environment and inherit_environment apply to a command, not to a url");
  }
  return Status::Ok();
}

Status ParseProcessor(const Field& f, pipeline::ProcessorOptions& out) {
  if (!f.value.IsMap()) return f.Error("expected a map with a type, got " + Describe(f.value));
  const YAML::Node type_node = f.value["type"];
  const Field type_field{f.file, f.path + ".type", f.key, type_node};
  if (!type_node.IsDefined()) {
    return type_field.Error("missing; expected one of access_log, geoip, json, fields, lambda");
  }
  std::string type;
  TL_RETURN_IF_ERROR(
      ParseChoice(type_field, {"access_log", "geoip", "json", "fields", "lambda"}, type));
  const auto ignore_type = [](const Field&) { return Status::Ok(); };
  if (type == "access_log") {
    pipeline::AccessLogOptions o;
    TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value,
                                {{"type", ignore_type}, {"keep_line_field", [&](const Field& x) {
                                                           return ParseString(x, o.keep_line_field);
                                                         }}}));
    out.options = o;
  } else if (type == "geoip") {
    pipeline::GeoIpOptions o;
    TL_RETURN_IF_ERROR(ParseMap(
        f.file, f.path, f.key, f.value,
        {{"type", ignore_type},
         {"database", [&](const Field& x) { return ParseNonEmptyString(x, o.database); }},
         {"asn_database", [&](const Field& x) { return ParseString(x, o.asn_database); }},
         {"source_field", [&](const Field& x) { return ParseNonEmptyString(x, o.source_field); }},
         {"target_field", [&](const Field& x) { return ParseNonEmptyString(x, o.target_field); }},
         {"language", [&](const Field& x) { return ParseNonEmptyString(x, o.language); }}}));
    if (o.database.empty()) return f.Error("a geoip processor needs database");
    out.options = o;
  } else if (type == "json") {
    TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, {{"type", ignore_type}}));
    out.options = std::monostate{};
  } else if (type == "fields") {
    pipeline::FieldsOptions o;
    TL_RETURN_IF_ERROR(
        ParseMap(f.file, f.path, f.key, f.value,
                 {{"type", ignore_type},
                  {"add", [&](const Field& x) { return ParseStringPairs(x, o.add); }},
                  {"rename", [&](const Field& x) { return ParseStringPairs(x, o.rename); }},
                  {"copy", [&](const Field& x) { return ParseStringPairs(x, o.copy); }},
                  {"remove", [&](const Field& x) { return ParseStringList(x, o.remove); }},
                  {"metadata", [&](const Field& x) { return ParseMetadata(x, o.metadata); }}}));
    out.options = o;
  } else {
    pipeline::LambdaOptions o;
    TL_RETURN_IF_ERROR(ParseLambda(f, o));
    out.options = o;
  }
  return Status::Ok();
}

Status ParseSource(const Field& f, pipeline::SourceOptions& o) {
  std::string start = "TRIM_HORIZON";
  std::optional<Field> timestamp_field;
  std::string timestamp;
  const Schema schema = {
      {"stream",
       [&](const Field& x) {
         std::string s;
         TL_RETURN_IF_ERROR(ParseNonEmptyString(x, s));
         o.stream = StreamName(s);
         return Status::Ok();
       }},
      {"starting_position",
       [&](const Field& x) {
         return ParseChoice(x, {"TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"}, start);
       }},
      {"starting_timestamp",
       [&](const Field& x) {
         timestamp_field = x;
         return ParseNonEmptyString(x, timestamp);
       }},
      {"read_max_records",
       [&](const Field& x) { return ParseInteger(x, 1, 10'000, o.read_max_records); }},
  };
  TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, schema));
  if (o.stream.get().empty()) return f.Error("missing stream");
  o.start.type =
      storage::ParseStartingPosition(start).value_or(storage::StartingPosition::kTrimHorizon);
  if (o.start.type == storage::StartingPosition::kAtTimestamp) {
    if (!timestamp_field) return f.Error("AT_TIMESTAMP needs starting_timestamp");
    auto ms = ParseTimestampMs(timestamp);
    if (!ms) {
      return timestamp_field->Error("expected epoch seconds or ISO 8601 UTC, got \"" + timestamp +
                                    "\"");
    }
    o.start.timestamp_ms = *ms;
  } else if (timestamp_field) {
    return timestamp_field->Error("only used with starting_position: AT_TIMESTAMP");
  }
  return Status::Ok();
}

Status ParseFileDestination(const Field& x, pipeline::FileDestinationOptions& file) {
  return ParseMap(
      x.file, x.path, x.key, x.value,
      {{"path", [&](const Field& y) { return ParseNonEmptyString(y, file.path); }},
       {"rotate_mib", [&](const Field& y) { return ParseInteger(y, 1, 4096, file.rotate_mib); }},
       {"rotate_interval_s",
        [&](const Field& y) { return ParseInteger(y, 1, 86400, file.rotate_interval_s); }}});
}

Status ParseOpenSearchDestination(const Field& x, pipeline::OpenSearchDestinationOptions& os) {
  using pipeline::DocumentIdMode;
  using pipeline::IndexRotation;
  bool has_url = false;
  bool has_index = false;
  const Schema schema = {
      {"url",
       [&](const Field& y) {
         has_url = true;
         if (y.value.IsSequence()) return ParseStringList(y, os.urls);
         return ParseNonEmptyString(y, os.urls.emplace_back());
       }},
      {"index",
       [&](const Field& y) {
         has_index = true;
         return ParseNonEmptyString(y, os.index);
       }},
      {"rotation",
       [&](const Field& y) {
         const std::vector<std::string> names = {"NoRotation", "OneHour", "OneDay", "OneWeek",
                                                 "OneMonth"};
         std::string v;
         TL_RETURN_IF_ERROR(ParseChoice(y, names, v));
         const IndexRotation values[] = {IndexRotation::kNoRotation, IndexRotation::kOneHour,
                                         IndexRotation::kOneDay, IndexRotation::kOneWeek,
                                         IndexRotation::kOneMonth};
         for (size_t i = 0; i < names.size(); ++i) {
           if (names[i] == v) os.rotation = values[i];
         }
         return Status::Ok();
       }},
      {"document_id",
       [&](const Field& y) {
         std::string v;
         TL_RETURN_IF_ERROR(ParseChoice(y, {"stable", "auto"}, v));
         os.document_id = v == "auto" ? DocumentIdMode::kAuto : DocumentIdMode::kStable;
         return Status::Ok();
       }},
      {"retry_duration_s",
       [&](const Field& y) { return ParseInteger(y, 0, 7200, os.retry_duration_s); }},
      {"username", [&](const Field& y) { return ParseString(y, os.username); }},
      {"password", [&](const Field& y) { return ParseString(y, os.password); }},
      {"ca_file", [&](const Field& y) { return ParseString(y, os.ca_file); }},
      {"tls_insecure", [&](const Field& y) { return ParseBool(y, os.tls_insecure); }},
      {"gzip", [&](const Field& y) { return ParseBool(y, os.gzip); }},
      {"concurrency", [&](const Field& y) { return ParseInteger(y, 1, 16, os.concurrency); }},
      {"bulk_max_mib", [&](const Field& y) { return ParseInteger(y, 1, 100, os.bulk_max_mib); }},
      {"keep_alive_connections",
       [&](const Field& y) { return ParseInteger(y, 0, 64, os.keep_alive_connections); }},
      {"request_timeout_s",
       [&](const Field& y) { return ParseInteger(y, 1, 600, os.request_timeout_s); }},
  };
  TL_RETURN_IF_ERROR(ParseMap(x.file, x.path, x.key, x.value, schema));
  if (!has_url) return x.Error("missing url");
  if (!has_index) return x.Error("missing index");
  PasswordFromEnvironment(os);
  if (os.username.empty() != os.password.empty()) {
    return x.Error(
        "username and password go together (the password may come from "
        "TIDELINE_OPENSEARCH_PASSWORD)");
  }
  return Status::Ok();
}

Status ParseDestination(const Field& f, pipeline::DestinationOptions& o) {
  int kinds = 0;
  const Schema schema = {
      {"file",
       [&](const Field& x) {
         ++kinds;
         pipeline::FileDestinationOptions file;
         TL_RETURN_IF_ERROR(ParseFileDestination(x, file));
         o.options = file;
         return Status::Ok();
       }},
      {"opensearch",
       [&](const Field& x) {
         ++kinds;
         if (!x.value.IsMap()) return x.Error("expected a map, got " + Describe(x.value));
         pipeline::OpenSearchDestinationOptions os;
         TL_RETURN_IF_ERROR(ParseOpenSearchDestination(x, os));
         o.options = std::move(os);
         return Status::Ok();
       }},
  };
  TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, schema));
  if (kinds == 0 && !f.value.IsNull()) return f.Error("expected a destination: file or opensearch");
  if (kinds > 1) return f.Error("expected one destination, file or opensearch, not both");
  return Status::Ok();
}

Status ParsePipeline(const Field& f, PipelineOptions& p) {
  if (!f.value.IsMap()) return f.Error("expected a map, got " + Describe(f.value));
  bool has_source = false;
  const Schema schema = {
      {"name", [&](const Field& x) { return ParseNonEmptyString(x, p.name); }},
      {"source",
       [&](const Field& x) {
         has_source = true;
         return ParseSource(x, p.source);
       }},
      {"processors",
       [&](const Field& x) {
         return ParseList(
             x, [&](const Field& it) { return ParseProcessor(it, p.processors.emplace_back()); });
       }},
      {"buffer",
       [&](const Field& x) {
         return ParseMap(
             x.file, x.path, x.key, x.value,
             {{"size_mib",
               [&](const Field& y) { return ParseInteger(y, 1, 128, p.buffer.size_mib); }},
              {"interval_s",
               [&](const Field& y) { return ParseInteger(y, 0, 900, p.buffer.interval_s); }}});
       }},
      {"destination", [&](const Field& x) { return ParseDestination(x, p.destination); }},
      {"max_document_depth",
       [&](const Field& x) {
         return ParseInteger(x, 1, pipeline::kMaxMaxDocumentDepth, p.max_document_depth);
       }},
      {"backup",
       [&](const Field& x) {
         return ParseMap(
             x.file, x.path, x.key, x.value,
             {{"path", [&](const Field& y) { return ParseNonEmptyString(y, p.backup.path); }},
              {"mode", [&](const Field& y) {
                 std::string mode;
                 TL_RETURN_IF_ERROR(ParseChoice(y, {"FailedDocumentsOnly", "AllDocuments"}, mode));
                 p.backup.mode = mode == "AllDocuments"
                                     ? pipeline::BackupMode::kAllDocuments
                                     : pipeline::BackupMode::kFailedDocumentsOnly;
                 return Status::Ok();
               }}});
       }},
  };
  TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, schema));
  if (p.name.empty()) return f.Error("missing name");
  if (!has_source) return f.Error("missing source");
  const Status valid = pipeline::ValidatePipelineOptions(p);
  if (!valid.ok()) return f.Error(valid.message());
  return Status::Ok();
}

}  // namespace

Status ParsePipelines(std::string_view file, const Field& f, std::vector<PipelineOptions>& out) {
  (void)file;
  return ParseList(f, [&](const Field& it) {
    PipelineOptions p;
    TL_RETURN_IF_ERROR(ParsePipeline(it, p));
    for (const auto& other : out) {
      if (other.name == p.name) return it.Error("duplicate pipeline name " + p.name);
    }
    out.push_back(std::move(p));
    return Status::Ok();
  });
}

}  // namespace tideline::cli::config_parse

namespace tideline::cli {

void PasswordFromEnvironment(pipeline::OpenSearchDestinationOptions& options) {
  const char* env = std::getenv("TIDELINE_OPENSEARCH_PASSWORD");
  if (env != nullptr && !options.username.empty() && options.password.empty()) {
    options.password = env;
  }
}

}  // namespace tideline::cli
