#include "common/security/security_config.hpp"

#include "common/security/pem_check.hpp"
#include "common/security/token_table.hpp"

namespace rainbow::security {

namespace {

std::chrono::seconds ReloadInterval(config::Env& env) {
  const auto interval = env.Duration("TLS_RELOAD_INTERVAL", std::chrono::seconds(60),
                                     "how often certificate and key files are checked for a new version");
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(interval);
  if (!env.describing() && seconds.count() < 1) {
    throw config::ConfigError("TLS_RELOAD_INTERVAL", "TLS_RELOAD_INTERVAL must be at least 1s");
  }
  return seconds;
}

// Both or neither: a certificate without its key (or the reverse) is a half-done configuration.
void CheckPair(const std::string& cert_var, const std::string& cert, const std::string& key_var,
               const std::string& key) {
  if (cert.empty() && key.empty()) return;
  if (cert.empty()) throw config::ConfigError(cert_var, key_var + " is set but " + cert_var + " is not");
  if (key.empty()) throw config::ConfigError(key_var, cert_var + " is set but " + key_var + " is not");
  CheckCertificateFile(cert_var, cert);
  CheckPrivateKeyFile(key_var, key);
  CheckKeyMatchesCertificate(key_var, cert, key);
}

}  // namespace

void CheckServerTlsFiles(const std::string& prefix, const std::string& cert, const std::string& key,
                         const std::string& client_ca) {
  CheckPair(prefix + "CERT_FILE", cert, prefix + "KEY_FILE", key);
  if (!client_ca.empty()) {
    if (cert.empty())
      throw config::ConfigError(prefix + "CLIENT_CA_FILE",
                                prefix + "CLIENT_CA_FILE needs " + prefix + "CERT_FILE");
    CheckCertificateFile(prefix + "CLIENT_CA_FILE", client_ca);
  }
}

ServerTlsConfig LoadServerTls(config::Env& env) {
  ServerTlsConfig c;
  c.cert_file =
      env.String("GRPC_TLS_CERT_FILE", "",
                 "PEM certificate (chain) of the gRPC server; set to serve TLS instead of plaintext");
  c.key_file = env.String("GRPC_TLS_KEY_FILE", "", "PEM private key of GRPC_TLS_CERT_FILE");
  c.client_ca_file = env.String("GRPC_TLS_CLIENT_CA_FILE", "",
                                "PEM CA bundle; set to require client certificates it signed (mTLS)");
  c.reload_interval = ReloadInterval(env);
  if (!env.describing()) CheckServerTlsFiles("GRPC_TLS_", c.cert_file, c.key_file, c.client_ca_file);
  return c;
}

AuthConfig LoadAuth(config::Env& env) {
  AuthConfig c;
  c.tokens_file =
      env.String("AUTH_TOKENS_FILE", "",
                 "file of bearer tokens and mTLS identities with their scopes; set to require "
                 "authentication on every RPC and REST route (format: common/security/README.md)");
  if (!env.describing() && c.enabled()) {
    try {
      TokenTable::Load(c.tokens_file);
    } catch (const std::exception& e) {
      throw config::ConfigError("AUTH_TOKENS_FILE", std::string("AUTH_TOKENS_FILE: ") + e.what());
    }
  }
  return c;
}

ClientConfig LoadClient(config::Env& env) {
  ClientConfig c;
  c.ca_file =
      env.String("GRPC_CLIENT_CA_FILE", "",
                 "PEM CA bundle that signed the gRPC servers' certificates; set to call them over TLS");
  c.cert_file =
      env.String("GRPC_CLIENT_CERT_FILE", "", "PEM client certificate for servers that require mTLS");
  c.key_file = env.String("GRPC_CLIENT_KEY_FILE", "", "PEM private key of GRPC_CLIENT_CERT_FILE");
  c.server_name = env.String("GRPC_CLIENT_SERVER_NAME", "",
                             "name to verify the server certificate against (default: the address's host)");
  c.token =
      env.Secret("GRPC_CLIENT_TOKEN", "bearer token sent on every gRPC call (prefer GRPC_CLIENT_TOKEN_FILE)");
  c.reload_interval = ReloadInterval(env);
  if (!env.describing()) CheckPair("GRPC_CLIENT_CERT_FILE", c.cert_file, "GRPC_CLIENT_KEY_FILE", c.key_file);
  if (!env.describing()) {
    if (!c.ca_file.empty()) CheckCertificateFile("GRPC_CLIENT_CA_FILE", c.ca_file);
    if (!c.cert_file.empty() && c.ca_file.empty()) {
      throw config::ConfigError("GRPC_CLIENT_CA_FILE",
                                "GRPC_CLIENT_CERT_FILE needs GRPC_CLIENT_CA_FILE (TLS)");
    }
  }
  return c;
}

ClientConfig ClientFromProcessEnv() {
  config::Env env;
  return LoadClient(env);
}

}  // namespace rainbow::security
