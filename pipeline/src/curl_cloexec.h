// libcurl opens its sockets without SOCK_CLOEXEC, so a subprocess started while a connection
// is open (a Lambda transformer) would inherit it and could keep it open after tideline closed
// it. Every libcurl handle of the pipeline opens its sockets through this instead.
#pragma once

#include <curl/curl.h>
#include <sys/socket.h>

namespace tideline::pipeline {

inline curl_socket_t OpenCloexecSocket(void*, curlsocktype, curl_sockaddr* address) {
  const int fd = ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

inline void UseCloexecSockets(CURL* curl) {
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, &OpenCloexecSocket);
}

}  // namespace tideline::pipeline
