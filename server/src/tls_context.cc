#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "logging.h"

namespace tideline::server {
namespace {

namespace ssl = boost::asio::ssl;

// A certificate chain or a key is a few KiB; anything this large is not one.
constexpr off_t kMaxPemBytes = 1 << 20;

// TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all of that kind).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// "key: path: problem", the shape ValidateServerOptions' callers map to a configuration line.
Status FileError(std::string_view key, const std::string& path, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("{}: {}: {}", key, path, problem));
}

// The reason of OpenSSL's most recent error on this thread, and an empty queue afterwards (the
// queue is per thread; a stale entry would be blamed on a later, unrelated call).
std::string TakeOpenSslError() {
  unsigned long code = 0;
  unsigned long last = 0;
  while ((code = ERR_get_error()) != 0)
    last = code;
  if (last == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(last);
  return reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", last);
}

// Reads a regular file of at most kMaxPemBytes. Anything else (a FIFO, a device, a directory)
// is refused without reading, so a wrong path can never block start-up or a reload.
Result<std::string> ReadPemFile(std::string_view key, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument(fmt::format("{}: required", key));
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return FileError(key, path, std::strerror(errno));
  struct stat st {};
  std::string data;
  Status status = Status::Ok();
  if (::fstat(fd, &st) != 0) {
    status = FileError(key, path, std::strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    status = FileError(key, path, "not a regular file");
  } else if (st.st_size > kMaxPemBytes) {
    status = FileError(key, path, fmt::format("larger than {} bytes", kMaxPemBytes));
  } else {
    data.resize(static_cast<size_t>(st.st_size));
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::read(fd, data.data() + done, data.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = FileError(key, path, std::strerror(errno));
        break;
      }
      if (n == 0) break;  // the file shrank while being read: parse what is there
      done += static_cast<size_t>(n);
    }
    data.resize(done);
  }
  ::close(fd);
  if (!status.ok()) return status;
  return data;
}

// Never prompts for a passphrase (OpenSSL's default reads the terminal): an encrypted key is
// refused instead.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) {
  return -1;
}

// kAlpnProtocols in the ALPN wire format (length-prefixed names).
const std::string& AlpnWire() {
  static const std::string wire = [] {
    std::string out;
    for (std::string_view p : kAlpnProtocols) {
      out.push_back(static_cast<char>(p.size()));
      out.append(p);
    }
    return out;
  }();
  return wire;
}

int SelectAlpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len,
               const unsigned char* in, unsigned int in_len, void* /*arg*/) {
  const std::string& wire = AlpnWire();
  unsigned char* selected = nullptr;
  unsigned char selected_len = 0;
  // The server's list first: its order is the preference.
  if (SSL_select_next_proto(
          &selected, &selected_len, reinterpret_cast<const unsigned char*>(wire.data()),
          static_cast<unsigned int>(wire.size()), in, in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no common protocol: go on without ALPN, as HTTP/1.1
  }
  *out = selected;
  *out_len = selected_len;
  return SSL_TLSEXT_ERR_OK;
}

Status ConfigureProtocol(SSL_CTX* ctx) {
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return Status::Internal("cannot set the minimum TLS version: " + TakeOpenSslError());
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  // An idle keep-alive connection gives its ~34 KiB of record buffers back until it reads again.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1) {
    return Status::Internal("cannot set the TLS 1.2 ciphers: " + TakeOpenSslError());
  }
  SSL_CTX_set_alpn_select_cb(ctx, &SelectAlpn, nullptr);
  SSL_CTX_set_default_passwd_cb(ctx, &NoPassphrase);
  return Status::Ok();
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

Status UseKey(SSL_CTX* ctx, const TlsOptions& options, const std::string& pem) {
  std::unique_ptr<BIO, BioDeleter> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf: " + TakeOpenSslError());
  std::unique_ptr<EVP_PKEY, PkeyDeleter> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (!key) {
    return FileError("tls.key_file", options.key_file,
                     "no unencrypted PEM private key (" + TakeOpenSslError() + ")");
  }
  // Checked against the certificate first: SSL_CTX_use_PrivateKey would take a key that does
  // not match by dropping the certificate, and the error left would only say that none is set.
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr || X509_check_private_key(cert, key.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    return FileError("tls.key_file", options.key_file,
                     fmt::format("does not match the certificate in {} ({})", options.cert_file,
                                 TakeOpenSslError()));
  }
  return Status::Ok();
}

void LogCertificate(SSL_CTX* ctx, const std::string& path) {
  X509* cert = SSL_CTX_get0_certificate(ctx);
  if (cert == nullptr) return;
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert), subject, sizeof subject);
  if (X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
    Log().warn("TLS certificate {} ({}) has expired: clients will refuse it", path, subject);
  } else if (X509_cmp_current_time(X509_get0_notBefore(cert)) > 0) {
    Log().warn("TLS certificate {} ({}) is not valid yet: clients will refuse it", path, subject);
  } else {
    Log().info("TLS certificate {} loaded ({})", path, subject);
  }
}

}  // namespace

Result<std::shared_ptr<ssl::context>> LoadTlsContext(const TlsOptions& options) {
  Result<std::string> cert = ReadPemFile("tls.cert_file", options.cert_file);
  if (!cert.ok()) return cert.status();
  Result<std::string> key = ReadPemFile("tls.key_file", options.key_file);
  if (!key.ok()) return key.status();

  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = context->native_handle();
  Status status = ConfigureProtocol(ctx);
  if (status.ok()) {
    boost::system::error_code ec;
    context->use_certificate_chain(boost::asio::buffer(*cert), ec);
    if (ec) {
      status = FileError("tls.cert_file", options.cert_file,
                         "no PEM certificate chain (" + ec.message() + ")");
    }
  }
  if (status.ok()) status = UseKey(ctx, options, *key);
  ERR_clear_error();
  if (!status.ok()) return status;
  return context;
}

Result<std::unique_ptr<TlsContextHolder>> TlsContextHolder::Load(const TlsOptions& options) {
  Result<std::shared_ptr<ssl::context>> context = LoadTlsContext(options);
  if (!context.ok()) return context.status();
  LogCertificate(context.value()->native_handle(), options.cert_file);
  return std::unique_ptr<TlsContextHolder>(
      new TlsContextHolder(options, std::move(context).value()));
}

std::shared_ptr<ssl::context> TlsContextHolder::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

Status TlsContextHolder::Reload() {
  std::lock_guard<std::mutex> reload_lock(reload_mu_);
  Result<std::shared_ptr<ssl::context>> context = LoadTlsContext(options_);
  if (!context.ok()) return context.status();
  LogCertificate(context.value()->native_handle(), options_.cert_file);
  std::shared_ptr<ssl::context> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::exchange(current_, std::move(context).value());
  }
  // `old` is freed here, outside mu_, unless connections still hold it.
  return Status::Ok();
}

}  // namespace tideline::server
