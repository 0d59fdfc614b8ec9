#include "common/grpc_server/grpc_server.hpp"

#include <absl/synchronization/mutex.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

#include <stdexcept>

#include "common/logging/log.hpp"
#include "common/security/grpc_security.hpp"
#include "grpc/health/v1/health.pb.h"

namespace rainbow::grpc_server {

GrpcServer::GrpcServer(std::string addr, int max_message_bytes, int sync_max_pollers)
    : addr_(std::move(addr)), max_message_bytes_(max_message_bytes), sync_max_pollers_(sync_max_pollers) {
  // Debian's abseil is built without NDEBUG, so absl::Mutex runs its deadlock detection (a lock graph,
  // GraphCycles) on every lock gRPC takes; release builds of abseil skip it. Off, process-wide.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

GrpcServer::~GrpcServer() {
  StopFollowing();
  if (server_) Shutdown(std::chrono::milliseconds(0));
}

void GrpcServer::FollowReadiness(std::function<std::string()> not_ready_reason,
                                 std::chrono::milliseconds interval) {
  StopFollowing();
  stop_following_ = false;
  // Asked once here too, so a server started right after this call does not say SERVING before its
  // first check. A check that throws counts as not ready.
  const auto check = [this, reason = std::move(not_ready_reason)] {
    try {
      SetServing(reason().empty());
    } catch (const std::exception& e) {
      SetServing(false);
      log::Warn("readiness check failed", {{"error", e.what()}});
    }
  };
  check();
  follower_ = std::thread([this, check, interval] {
    std::unique_lock lock(follow_mu_);
    while (!follow_cv_.wait_for(lock, interval, [this] { return stop_following_; })) {
      lock.unlock();
      check();
      lock.lock();
    }
  });
}

void GrpcServer::StopFollowing() {
  if (!follower_.joinable()) return;
  {
    std::lock_guard lock(follow_mu_);
    stop_following_ = true;
  }
  follow_cv_.notify_all();
  follower_.join();
}

void GrpcServer::AddService(grpc::Service* service, std::string health_name) {
  services_.push_back(service);
  if (!health_name.empty()) health_names_.push_back(std::move(health_name));
}

void GrpcServer::AddAsyncPart(AsyncPart* part) { async_parts_.push_back(part); }

void GrpcServer::ApplyServingLocked() {
  auto* health = server_->GetHealthCheckService();
  health->SetServingStatus(serving_);  // "" and every name set before
  for (const auto& name : health_names_) health->SetServingStatus(name, serving_);
}

void GrpcServer::Start() {
  // Both are process-wide switches read when a ServerBuilder builds; setting them twice is harmless.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  // The default health service's descriptors are not in grpc++; touching ours links them in (and so
  // registers them in the generated pool), so reflection can describe grpc.health.v1.Health.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(addr_, security::ServerCredentials(tls_), &port_);
  builder.SetMaxReceiveMessageSize(max_message_bytes_);
  builder.SetMaxSendMessageSize(max_message_bytes_);
  if (sync_max_pollers_ > 0) {
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, sync_max_pollers_);
  }
  if (max_threads_ > 0) {
    grpc::ResourceQuota quota("grpc-server-threads");
    quota.SetMaxThreads(max_threads_);
    builder.SetResourceQuota(quota);
  }
  for (auto* s : services_) builder.RegisterService(s);
  for (size_t i = 0; i < async_parts_.size(); ++i) arrival_queues_.push_back(builder.AddCompletionQueue());
  std::lock_guard lock(health_mu_);
  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    for (auto& queue : arrival_queues_) queue->Shutdown();
    arrival_queues_.clear();
    throw std::runtime_error("cannot serve gRPC on " + addr_ + " (address in use or invalid)");
  }
  ApplyServingLocked();
  for (size_t i = 0; i < async_parts_.size(); ++i) {
    async_threads_.emplace_back(
        [part = async_parts_[i], queue = arrival_queues_[i].get()] { part->Serve(queue); });
  }
  log::Info("grpc server listening", {{"addr", addr_},
                                      {"port", port_},
                                      {"transport", tls_.mutual()    ? "mtls"
                                                    : tls_.enabled() ? "tls"
                                                                     : "plaintext"}});
}

void GrpcServer::SetServing(bool serving) {
  std::lock_guard lock(health_mu_);
  if (shut_down_ || serving_ == serving) return;
  serving_ = serving;
  if (server_) ApplyServingLocked();  // else Start applies it
}

void GrpcServer::Shutdown(std::chrono::milliseconds drain) {
  StopFollowing();
  if (!server_) return;
  {
    std::lock_guard lock(health_mu_);
    shut_down_ = true;
    serving_ = false;
    ApplyServingLocked();
  }
  server_->Shutdown(std::chrono::system_clock::now() + drain);
  // grpc++'s order: queues are shut down after the server, and drained (Serve) before they go.
  for (auto* part : async_parts_) part->StopAsking();
  for (auto& queue : arrival_queues_) queue->Shutdown();
  for (auto& t : async_threads_) t.join();
  async_threads_.clear();
  for (auto* part : async_parts_) part->FinishAll();
  server_->Wait();
  std::lock_guard lock(health_mu_);
  server_.reset();
  arrival_queues_.clear();
  log::Info("grpc server stopped", {{"addr", addr_}});
}

}  // namespace rainbow::grpc_server
