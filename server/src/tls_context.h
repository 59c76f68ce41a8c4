// TLS for the API port: building an OpenSSL server context from the configured PEM files, and
// the holder that lets SIGHUP swap in a new certificate without touching open connections.
//
// What a context allows: TLS 1.2 and 1.3 only; for TLS 1.2 only ECDHE key exchange with AEAD
// ciphers (AES-GCM, ChaCha20-Poly1305), for TLS 1.3 OpenSSL's default suites; no compression,
// no renegotiation; ALPN selects one of kAlpnProtocols (a client offering none of them goes on
// without ALPN).
#pragma once

#include <array>
#include <memory>
#include <mutex>
#include <string_view>

#include <boost/asio/ssl/context.hpp>

#include "common/status.h"
#include "server/options.h"

namespace tideline::server {

// The application protocols this server speaks, in order of preference: HTTP/2 (h2_session.h)
// when the client offers it, else HTTP/1.1. The one list: every context made advertises it.
inline constexpr std::array<std::string_view, 2> kAlpnProtocols = {"h2", "http/1.1"};

// Builds a server context from `options.cert_file` (the certificate first, then any
// intermediates) and `options.key_file` (an unencrypted private key). Fails, naming the option
// and the file as "tls.cert_file: PATH: problem", when a file cannot be read, holds no PEM
// certificate or key, or the key does not belong to the certificate.
Result<std::shared_ptr<boost::asio::ssl::context>> LoadTlsContext(const TlsOptions& options);

// The context new connections get. A connection keeps the context it started with (its
// shared_ptr) for as long as it lives, so a reload never affects open connections.
//
// Thread safety: every member function may be called from any thread.
class TlsContextHolder {
 public:
  // Loads the files once; fails as LoadTlsContext.
  static Result<std::unique_ptr<TlsContextHolder>> Load(const TlsOptions& options);

  // The context for a connection being accepted now.
  std::shared_ptr<boost::asio::ssl::context> Current() const;

  // Builds a new context from the same files and makes it current. On failure the current
  // context stays and the error (as LoadTlsContext's) is returned.
  [[nodiscard]] Status Reload();

 private:
  TlsContextHolder(TlsOptions options, std::shared_ptr<boost::asio::ssl::context> context)
      : options_(std::move(options)), current_(std::move(context)) {}

  const TlsOptions options_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;  // GUARDED_BY(mu_)
  // Serialises Reload, so the later of two reloads is the one that stays. Lock order:
  // reload_mu_ before mu_.
  std::mutex reload_mu_;
};

}  // namespace tideline::server
