// Where the client commands find AWS credentials and the region, as the AWS CLI does.
//
// Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
// profile AWS_PROFILE (default "default") of the shared credentials file
// (AWS_SHARED_CREDENTIALS_FILE, default ~/.aws/credentials): aws_access_key_id,
// aws_secret_access_key, aws_session_token. None found: requests go unsigned.
// Region: --region, else AWS_REGION, else AWS_DEFAULT_REGION, else the profile's `region` in
// the config file (AWS_CONFIG_FILE, default ~/.aws/config; "[default]" or "[profile NAME]"),
// else us-east-1.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "auth/sigv4.h"

namespace tideline::cli {

// How a client signs and reaches the server.
struct ClientAuth {
  // Absent: requests go unsigned (enough for a server with auth mode none).
  std::optional<auth::Credentials> credentials;
  // The region of the credential scope. Default: us-east-1
  std::string region = "us-east-1";
  // PEM CA bundle for https endpoints (CURLOPT_CAINFO); empty: curl's default.
  std::string ca_bundle;
};

// Reads an environment variable; nullopt when unset. Injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
// The process environment.
std::optional<std::string> ProcessEnv(const std::string& name);

// Resolves credentials and region from the sources above. `region_flag` empty: not given.
ClientAuth ResolveClientAuth(const std::string& region_flag, const std::string& ca_bundle,
                             const EnvLookup& env = &ProcessEnv);

}  // namespace tideline::cli
