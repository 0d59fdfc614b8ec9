#pragma once

#include <chrono>
#include <string>

#include "common/config/env.hpp"

namespace rainbow::security {

// The gRPC server's TLS (GRPC_TLS_*): off when no certificate is given. With a client CA, every client
// must present a certificate that CA signed (mTLS). The files are watched and reloaded every
// `reload_interval`, so a rotated Kubernetes secret is picked up without a restart.
struct ServerTlsConfig {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  std::chrono::seconds reload_interval{60};
  bool enabled() const { return !cert_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
};

// Who may call what (AUTH_TOKENS_FILE); empty = authentication off.
struct AuthConfig {
  std::string tokens_file;
  bool enabled() const { return !tokens_file.empty(); }
};

// A gRPC client's side (GRPC_CLIENT_*): the CA that signed the servers' certificates (TLS on when
// set), an optional client certificate for mTLS, the name to check the server's certificate against
// when the address does not carry it, and the bearer token sent on every call.
struct ClientConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  std::string token;
  std::chrono::seconds reload_interval{60};
  bool tls() const { return !ca_file.empty(); }
};

// A server's TLS files named <prefix>CERT_FILE, <prefix>KEY_FILE, <prefix>CLIENT_CA_FILE: all empty
// (plaintext), or a certificate with its own key, and optionally a CA bundle. Throws ConfigError.
void CheckServerTlsFiles(const std::string& prefix, const std::string& cert, const std::string& key,
                         const std::string& client_ca);

// GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE, GRPC_TLS_CLIENT_CA_FILE, TLS_RELOAD_INTERVAL. The files are
// read once here so that a missing or malformed one stops the process naming its var.
ServerTlsConfig LoadServerTls(config::Env& env);
// AUTH_TOKENS_FILE (checked to parse here; reloaded when it changes).
AuthConfig LoadAuth(config::Env& env);
// GRPC_CLIENT_CA_FILE, GRPC_CLIENT_CERT_FILE, GRPC_CLIENT_KEY_FILE, GRPC_CLIENT_SERVER_NAME,
// GRPC_CLIENT_TOKEN (a secret: GRPC_CLIENT_TOKEN_FILE works too).
ClientConfig LoadClient(config::Env& env);
// The same, from the process environment, for tools and tests; throws config::ConfigError.
ClientConfig ClientFromProcessEnv();

}  // namespace rainbow::security
