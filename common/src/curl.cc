#include "common/curl.h"

#include <sys/socket.h>

#include <mutex>

namespace tideline {
namespace {

curl_socket_t OpenCloexecSocket(void*, curlsocktype, curl_sockaddr* address) {
  const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

}  // namespace

void EnsureCurlGlobalInit() {
  // curl_global_init is thread-safe only since libcurl 7.84, and must not race another call.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void UseCloexecSockets(CURL* curl) {
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenCloexecSocket);
}

}  // namespace tideline
