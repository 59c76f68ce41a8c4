// Loading the TLS context from PEM files (server/src/tls_context.h): what is accepted, how each
// bad file is named, and that a failed reload keeps the current context.
#include "tls_context.h"

#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "server/options.h"
#include "test_util/temp_dir.h"

namespace tideline::server {
namespace {

struct Pem {
  std::string cert;
  std::string key;
};

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

// A self-signed P-256 certificate with `serial` and its key, made in memory.
Pem SelfSigned(const std::string& cn, long serial, const EVP_CIPHER* key_cipher = nullptr) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  EXPECT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);

  Pem out;
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(cert_bio.get(), cert.get());
  out.cert = BioText(cert_bio.get());
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  static const char kPassphrase[] = "secret";
  PEM_write_bio_PrivateKey(
      key_bio.get(), key.get(), key_cipher,
      key_cipher ? reinterpret_cast<const unsigned char*>(kPassphrase) : nullptr,
      key_cipher ? static_cast<int>(sizeof kPassphrase - 1) : 0, nullptr, nullptr);
  out.key = BioText(key_bio.get());
  return out;
}

long SerialOf(boost::asio::ssl::context& context) {
  X509* cert = SSL_CTX_get0_certificate(context.native_handle());
  return cert == nullptr ? -1 : ASN1_INTEGER_get(X509_get0_serialNumber(cert));
}

class TlsContextTest : public ::testing::Test {
 protected:
  void Write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  }
  // Installs `pem` as the configured files.
  void Install(const Pem& pem) {
    Write(options_.cert_file, pem.cert);
    Write(options_.key_file, pem.key);
  }
  std::string Error(const TlsOptions& options) {
    Result<std::shared_ptr<boost::asio::ssl::context>> context = LoadTlsContext(options);
    EXPECT_FALSE(context.ok());
    return context.ok() ? "" : context.status().message();
  }

  tideline::testing::TempDir dir_{"tideline-tls-test"};
  TlsOptions options_{dir_.Sub("tls.crt").string(), dir_.Sub("tls.key").string()};
};

TEST_F(TlsContextTest, LoadsMatchingCertificateAndKeyForTls12AndNewer) {
  Install(SelfSigned("a", 7));
  Result<std::shared_ptr<boost::asio::ssl::context>> context = LoadTlsContext(options_);
  ASSERT_TRUE(context.ok()) << context.status().message();
  EXPECT_EQ(SerialOf(**context), 7);
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->native_handle()), TLS1_2_VERSION);
  EXPECT_NE(SSL_CTX_get_options((*context)->native_handle()) & SSL_OP_NO_RENEGOTIATION, 0u);
}

TEST_F(TlsContextTest, MissingFilesAreNamed) {
  Install(SelfSigned("a", 1));
  TlsOptions options = options_;
  options.cert_file = dir_.Sub("missing.crt").string();
  EXPECT_EQ(Error(options), "tls.cert_file: " + options.cert_file + ": No such file or directory");
  options = options_;
  options.key_file = dir_.Sub("missing.key").string();
  EXPECT_EQ(Error(options), "tls.key_file: " + options.key_file + ": No such file or directory");
  options.key_file.clear();
  EXPECT_EQ(Error(options), "tls.key_file: required");
}

TEST_F(TlsContextTest, OnlyRegularFilesAreRead) {
  Install(SelfSigned("a", 1));
  TlsOptions options = options_;
  options.key_file = dir_.path().string();
  EXPECT_EQ(Error(options), "tls.key_file: " + options.key_file + ": not a regular file");
  // A FIFO with no writer would block a plain open or read forever.
  options.key_file = dir_.Sub("fifo").string();
  ASSERT_EQ(mkfifo(options.key_file.c_str(), 0600), 0);
  EXPECT_EQ(Error(options), "tls.key_file: " + options.key_file + ": not a regular file");
}

TEST_F(TlsContextTest, LargeFilesAreRefused) {
  Install(SelfSigned("a", 1));
  Write(options_.cert_file, std::string((1 << 20) + 1, 'x'));
  EXPECT_EQ(Error(options_),
            "tls.cert_file: " + options_.cert_file + ": larger than 1048576 bytes");
}

TEST_F(TlsContextTest, KeyOfAnotherCertificateIsRefused) {
  Write(options_.cert_file, SelfSigned("a", 1).cert);
  Write(options_.key_file, SelfSigned("b", 2).key);
  EXPECT_EQ(Error(options_).rfind("tls.key_file: " + options_.key_file +
                                      ": does not match the certificate in " + options_.cert_file,
                                  0),
            0u)
      << Error(options_);
}

TEST_F(TlsContextTest, NonPemFilesAreRefused) {
  const Pem pem = SelfSigned("a", 1);
  Write(options_.cert_file, "not a certificate\n");
  Write(options_.key_file, pem.key);
  EXPECT_EQ(
      Error(options_).rfind("tls.cert_file: " + options_.cert_file + ": no PEM certificate", 0), 0u)
      << Error(options_);
  Write(options_.cert_file, pem.cert);
  Write(options_.key_file, pem.cert);  // a certificate where the key should be
  EXPECT_EQ(Error(options_).rfind(
                "tls.key_file: " + options_.key_file + ": no unencrypted PEM private key", 0),
            0u)
      << Error(options_);
}

TEST_F(TlsContextTest, EncryptedKeyIsRefusedWithoutAskingForAPassphrase) {
  // OpenSSL's default would read a passphrase from the terminal and block start-up.
  Install(SelfSigned("a", 1, EVP_aes_256_cbc()));
  EXPECT_EQ(Error(options_).rfind(
                "tls.key_file: " + options_.key_file + ": no unencrypted PEM private key", 0),
            0u)
      << Error(options_);
}

TEST_F(TlsContextTest, ValidateServerOptionsChecksTheFiles) {
  ServerOptions options;
  options.tls = options_;
  Write(options_.cert_file, SelfSigned("a", 1).cert);
  Write(options_.key_file, SelfSigned("b", 2).key);
  const Status mismatched = ValidateServerOptions(options);
  EXPECT_EQ(mismatched.message().rfind("tls.key_file: ", 0), 0u) << mismatched.message();
  Install(SelfSigned("a", 1));
  EXPECT_TRUE(ValidateServerOptions(options).ok());
  options.tls->handshake_timeout = std::chrono::seconds(0);
  EXPECT_EQ(ValidateServerOptions(options).message(),
            "tls.handshake_timeout_s: expected an integer in 1..3600, got 0");
}

TEST_F(TlsContextTest, ReloadSwapsOnSuccessAndKeepsTheCurrentContextOnFailure) {
  Install(SelfSigned("first", 1));
  Result<std::unique_ptr<TlsContextHolder>> holder = TlsContextHolder::Load(options_);
  ASSERT_TRUE(holder.ok()) << holder.status().message();
  const std::shared_ptr<boost::asio::ssl::context> first = (*holder)->Current();
  EXPECT_EQ(SerialOf(*first), 1);

  // A key that does not match: the reload fails and nothing changes.
  const Pem second = SelfSigned("second", 2);
  Write(options_.cert_file, second.cert);
  Write(options_.key_file, SelfSigned("third", 3).key);
  const Status failed = (*holder)->Reload();
  EXPECT_EQ(failed.message().rfind("tls.key_file: " + options_.key_file, 0), 0u)
      << failed.message();
  EXPECT_EQ((*holder)->Current(), first);

  Install(second);
  ASSERT_TRUE((*holder)->Reload().ok());
  const std::shared_ptr<boost::asio::ssl::context> now = (*holder)->Current();
  EXPECT_NE(now, first);
  EXPECT_EQ(SerialOf(*now), 2);
  EXPECT_EQ(SerialOf(*first), 1);  // what an open connection holds is untouched
}

}  // namespace
}  // namespace tideline::server
