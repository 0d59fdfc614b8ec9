#include "common/security/pem_check.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <memory>

#include "common/config/env.hpp"

namespace rainbow::security {

namespace {

struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<FILE, FileCloser>;

File Open(const std::string& var, const std::string& path) {
  File f(std::fopen(path.c_str(), "r"));
  if (!f) throw config::ConfigError(var, var + ": cannot read " + path);
  return f;
}

std::unique_ptr<X509, decltype(&X509_free)> ReadCertificate(const std::string& var, const std::string& path) {
  auto f = Open(var, path);
  std::unique_ptr<X509, decltype(&X509_free)> cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr),
                                                   X509_free);
  if (!cert) throw config::ConfigError(var, var + ": " + path + " holds no PEM certificate");
  return cert;
}

std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> ReadKey(const std::string& var, const std::string& path) {
  auto f = Open(var, path);
  // No passphrase callback: an encrypted key cannot be used unattended, so it is refused here.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_PrivateKey(
          f.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr),
      EVP_PKEY_free);
  if (!key) throw config::ConfigError(var, var + ": " + path + " holds no unencrypted PEM private key");
  return key;
}

}  // namespace

void CheckCertificateFile(const std::string& var, const std::string& path) { ReadCertificate(var, path); }

void CheckPrivateKeyFile(const std::string& var, const std::string& path) { ReadKey(var, path); }

void CheckKeyMatchesCertificate(const std::string& var, const std::string& cert_path,
                                const std::string& key_path) {
  const auto cert = ReadCertificate(var, cert_path);
  const auto key = ReadKey(var, key_path);
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    throw config::ConfigError(
        var, var + ": the key in " + key_path + " does not belong to the certificate in " + cert_path);
  }
}

}  // namespace rainbow::security
