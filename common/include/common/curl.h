// libcurl set-up shared by every module that speaks HTTP as a client (OpenSearch _bulk, Lambda
// over HTTP, the CLI's Kinesis client).
#pragma once

#include <curl/curl.h>

namespace tideline {

// curl_global_init, once per process, before the first handle. Thread-safe; cheap after the
// first call. The matching cleanup is left to process exit.
void EnsureCurlGlobalInit();

// Makes `curl` open its sockets with SOCK_CLOEXEC. libcurl does not, so a subprocess started
// while a connection is open (a Lambda transformer) would inherit it and could keep it open
// after tideline closed it. Every handle tideline makes goes through this.
void UseCloexecSockets(CURL* curl);

}  // namespace tideline
