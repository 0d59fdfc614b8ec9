#include "common/security/grpc_security.hpp"

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>
#include <grpcpp/support/client_interceptor.h>

#include "common/logging/log.hpp"

namespace rainbow::security {

namespace {

// Adds "authorization: Bearer <token>" to every call's initial metadata. An interceptor rather than
// call credentials, because grpc refuses call credentials on a plaintext channel, and a token over
// plaintext is still what a laptop stack or a mesh-encrypted cluster uses.
class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string* header) : header_(header) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *header_});
    }
    methods->Proceed();
  }

 private:
  const std::string* header_;
};

class BearerInterceptorFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(const std::string& token) : header_("Bearer " + token) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(grpc::experimental::ClientRpcInfo*) override {
    return new BearerInterceptor(&header_);
  }

 private:
  const std::string header_;  // lives as long as the channel, which owns this factory
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const ServerTlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  const auto interval = static_cast<unsigned>(tls.reload_interval.count());
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file, tls.cert_file, tls.client_ca_file, interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (tls.mutual()) {
    options.watch_root_certs();
    options.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

grpc::Status Authorize(const Authorizer& auth, const grpc::ServerContextBase& ctx, std::string_view scope) {
  if (!auth.enabled()) return grpc::Status::OK;
  std::optional<std::string_view> header;
  const auto& metadata = ctx.client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    header = std::string_view(it->second.data(), it->second.size());
  }
  std::vector<std::string> common_names;
  if (const auto peer = ctx.auth_context(); peer && peer->IsPeerAuthenticated()) {
    for (const auto& cn : peer->FindPropertyValues("x509_common_name"))
      common_names.emplace_back(cn.data(), cn.size());
  }
  const auto decision = auth.Decide(header, common_names, scope);
  if (decision.allowed()) return grpc::Status::OK;
  log::Warn("call refused", {{"principal", decision.principal},
                             {"scope", std::string(scope)},
                             {"reason", decision.reason},
                             {"peer", ctx.peer()}});
  const auto code = decision.verdict == Verdict::kUnauthenticated ? grpc::StatusCode::UNAUTHENTICATED
                                                                  : grpc::StatusCode::PERMISSION_DENIED;
  return {code, decision.reason};
}

std::shared_ptr<grpc::Channel> Connect(const std::string& target, const ClientConfig& client,
                                       grpc::ChannelArguments args) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (!client.tls()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    const auto interval = static_cast<unsigned>(client.reload_interval.count());
    auto provider =
        client.cert_file.empty()
            ? std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(client.ca_file, interval)
            : std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
                  client.key_file, client.cert_file, client.ca_file, interval);
    grpc::experimental::TlsChannelCredentialsOptions options;
    options.set_certificate_provider(provider);
    options.watch_root_certs();
    if (!client.cert_file.empty()) options.watch_identity_key_cert_pairs();
    options.set_verify_server_certs(true);
    options.set_certificate_verifier(std::make_shared<grpc::experimental::HostNameCertificateVerifier>());
    creds = grpc::experimental::TlsCredentials(options);
    if (!client.server_name.empty()) args.SetSslTargetNameOverride(client.server_name);
  }
  if (client.token.empty()) return grpc::CreateCustomChannel(target, creds, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<BearerInterceptorFactory>(client.token));
  return grpc::experimental::CreateCustomChannelWithInterceptors(target, creds, args,
                                                                 std::move(interceptors));
}

}  // namespace rainbow::security
