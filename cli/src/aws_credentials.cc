#include "cli/aws_credentials.h"

#include <cstdlib>
#include <fstream>
#include <map>

namespace tideline::cli {
namespace {

std::string Trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The keys of section `section` of an INI file; empty when the file or section is absent.
std::map<std::string, std::string> IniSection(const std::string& path, const std::string& section) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    const std::string t = Trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      inside = Trim(t.substr(1, t.size() - 2)) == section;
      continue;
    }
    if (!inside) continue;
    const size_t eq = t.find('=');
    if (eq == std::string::npos) continue;
    out.emplace(Trim(t.substr(0, eq)), Trim(t.substr(eq + 1)));
  }
  return out;
}

std::string HomeFile(const EnvLookup& env, const std::string& name) {
  const std::optional<std::string> home = env("HOME");
  return (home ? *home : std::string(".")) + "/.aws/" + name;
}

std::string NonEmpty(const std::optional<std::string>& v) {
  return v ? *v : std::string();
}

}  // namespace

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

ClientAuth ResolveClientAuth(const std::string& region_flag, const std::string& ca_bundle,
                             const EnvLookup& env) {
  ClientAuth out;
  out.ca_bundle = ca_bundle;
  const std::string profile = env("AWS_PROFILE").value_or("default");
  const std::string id = NonEmpty(env("AWS_ACCESS_KEY_ID"));
  const std::string secret = NonEmpty(env("AWS_SECRET_ACCESS_KEY"));
  if (!id.empty() && !secret.empty()) {
    out.credentials = auth::Credentials{id, secret, NonEmpty(env("AWS_SESSION_TOKEN"))};
  } else {
    const std::string file =
        env("AWS_SHARED_CREDENTIALS_FILE").value_or(HomeFile(env, "credentials"));
    auto keys = IniSection(file, profile);
    if (!keys["aws_access_key_id"].empty() && !keys["aws_secret_access_key"].empty()) {
      out.credentials = auth::Credentials{keys["aws_access_key_id"], keys["aws_secret_access_key"],
                                          keys["aws_session_token"]};
    }
  }
  if (!region_flag.empty()) {
    out.region = region_flag;
  } else if (const std::string r = NonEmpty(env("AWS_REGION")); !r.empty()) {
    out.region = r;
  } else if (const std::string d = NonEmpty(env("AWS_DEFAULT_REGION")); !d.empty()) {
    out.region = d;
  } else {
    const std::string file = env("AWS_CONFIG_FILE").value_or(HomeFile(env, "config"));
    auto keys = IniSection(file, profile == "default" ? "default" : "profile " + profile);
    if (!keys["region"].empty()) out.region = keys["region"];
  }
  return out;
}

}  // namespace tideline::cli
