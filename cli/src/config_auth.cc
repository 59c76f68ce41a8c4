// The `auth:` section: SigV4 mode, /metrics access and the access keys with their permissions.
// Secrets are resolved here, at start-up: secret_access_key_file must be readable by its owner
// only, secret_access_key_env must name a set variable.
#include <cstdlib>
#include <map>
#include <optional>

#include "auth/options.h"
#include "config_parse.h"

namespace tideline::cli::config_parse {
namespace {

Status ParseItems(const Field& f, const std::function<Status(const Field&)>& item) {
  if (f.value.IsNull()) return Status::Ok();
  if (!f.value.IsSequence()) return f.Error("expected a list, got " + Describe(f.value));
  for (size_t i = 0; i < f.value.size(); ++i) {
    TL_RETURN_IF_ERROR(
        item(Field{f.file, f.path + "[" + std::to_string(i) + "]", f.value[i], f.value[i]}));
  }
  return Status::Ok();
}

Status ParsePatterns(const Field& f, std::vector<std::string>& out) {
  return ParseItems(f, [&out](const Field& it) {
    std::string s;
    TL_RETURN_IF_ERROR(ParseString(it, s));
    if (s.empty()) return it.Error("expected a non-empty pattern");
    out.push_back(std::move(s));
    return Status::Ok();
  });
}

Status ParseCredential(const Field& f, auth::Principal& p) {
  std::map<std::string, Field> secret_sources;  // which of the three the entry sets
  std::string id_seen;
  const auto secret = [&secret_sources](const std::string& name) {
    return [&secret_sources, name](const Field& x) {
      secret_sources.emplace(name, x);  // ParseMap refuses a key given twice
      return Status::Ok();
    };
  };
  bool has_allow = false;
  const Schema schema = {
      {"access_key_id",
       [&](const Field& x) {
         TL_RETURN_IF_ERROR(ParseString(x, p.credentials.access_key_id));
         id_seen = p.credentials.access_key_id;
         return Status::Ok();
       }},
      {"secret_access_key", secret("secret_access_key")},
      {"secret_access_key_file", secret("secret_access_key_file")},
      {"secret_access_key_env", secret("secret_access_key_env")},
      {"session_token",
       [&](const Field& x) { return ParseString(x, p.credentials.session_token); }},
      {"user", [&](const Field& x) { return ParseString(x, p.user); }},
      {"allow",
       [&](const Field& x) {
         has_allow = true;
         return ParsePatterns(x, p.allow);
       }},
      {"streams", [&](const Field& x) { return ParsePatterns(x, p.streams); }},
  };
  TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, schema));
  if (id_seen.empty()) return f.Error("access_key_id: required");
  if (secret_sources.size() != 1) {
    return f.Error(
        "expected exactly one of secret_access_key, secret_access_key_file, "
        "secret_access_key_env");
  }
  if (!has_allow) return f.Error("allow: required (a list of actions such as kinesis:PutRecord)");
  const auto& [source, field] = *secret_sources.begin();
  std::string value;
  TL_RETURN_IF_ERROR(ParseString(field, value));
  if (source == "secret_access_key") {
    p.credentials.secret_access_key = value;
  } else if (source == "secret_access_key_env") {
    const char* env = std::getenv(value.c_str());
    if (env == nullptr || *env == '\0') {
      return field.Error("environment variable " + value + " is not set");
    }
    p.credentials.secret_access_key = env;
  } else {
    Result<std::string> read = auth::ReadSecretFile(value);
    if (!read.ok()) return field.Error(read.status().message());
    p.credentials.secret_access_key = std::move(*read);
  }
  if (p.credentials.secret_access_key.empty()) return field.Error("empty secret");
  return Status::Ok();
}

}  // namespace

Status ParseAuth(const Field& f, auth::AuthOptions& out) {
  // Each credential's Field, for the rules across entries. Fields are only ever copy-constructed:
  // assigning a YAML::Node writes into the document instead of rebinding.
  std::vector<Field> items;
  std::optional<Field> credentials_field;
  const Schema schema = {
      {"mode",
       [&](const Field& x) {
         std::string mode;
         TL_RETURN_IF_ERROR(ParseChoice(x, {"none", "sigv4"}, mode));
         out.mode = mode == "sigv4" ? auth::AuthMode::kSigV4 : auth::AuthMode::kNone;
         return Status::Ok();
       }},
      {"metrics",
       [&](const Field& x) {
         std::string access;
         TL_RETURN_IF_ERROR(ParseChoice(x, {"open", "protected"}, access));
         out.metrics =
             access == "protected" ? auth::MetricsAccess::kProtected : auth::MetricsAccess::kOpen;
         return Status::Ok();
       }},
      {"credentials",
       [&](const Field& x) {
         credentials_field.emplace(x);
         return ParseItems(x, [&](const Field& it) {
           auth::Principal p;
           TL_RETURN_IF_ERROR(ParseCredential(it, p));
           for (size_t i = 0; i < out.principals.size(); ++i) {
             if (out.principals[i].credentials.access_key_id == p.credentials.access_key_id) {
               return it.Error("duplicate access_key_id " + p.credentials.access_key_id);
             }
           }
           out.principals.push_back(std::move(p));
           items.push_back(it);
           return Status::Ok();
         });
       }},
  };
  TL_RETURN_IF_ERROR(ParseMap(f.file, f.path, f.key, f.value, schema));
  const Status valid = auth::ValidateAuthOptions(out);
  if (valid.ok()) return valid;
  // "credentials[1].allow: ..." is reported at that entry's line.
  const std::string& message = valid.message();
  const size_t open = message.find('[');
  const size_t close = message.find(']');
  if (message.starts_with("credentials[") && close != std::string::npos) {
    const size_t index = std::stoul(message.substr(open + 1, close - open - 1));
    if (index < items.size()) {
      Field at = items[index];
      const size_t colon = message.find(": ");
      at.path += message.substr(close + 1, colon - close - 1);
      return at.Error(message.substr(colon + 2));
    }
  }
  const size_t colon = message.find(": ");
  return (credentials_field ? *credentials_field : f).Error(message.substr(colon + 2));
}

}  // namespace tideline::cli::config_parse
