#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/security/authorizer.hpp"
#include "common/security/security_config.hpp"

namespace rainbow::security {

// The gRPC server's credentials: plaintext when TLS is off, else TLS (mTLS with a client CA) whose
// certificate, key and CA files are re-read every reload_interval by grpc's file watcher, so new
// handshakes use a rotated certificate without a restart.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const ServerTlsConfig& tls);

// The first thing every RPC handler does: OK, or UNAUTHENTICATED (no or unknown credentials) or
// PERMISSION_DENIED (known caller without `scope`), logged with the caller's name, never its token.
// A client certificate's verified CN stands in for a token when AUTH_TOKENS_FILE lists it.
grpc::Status Authorize(const Authorizer& auth, const grpc::ServerContextBase& ctx, std::string_view scope);

// A channel to `target` as `client` says: plaintext or TLS (verifying the server's certificate and
// host name; mTLS with a client certificate), and the bearer token, when set, on every call.
std::shared_ptr<grpc::Channel> Connect(const std::string& target, const ClientConfig& client,
                                       grpc::ChannelArguments args = {});

}  // namespace rainbow::security
