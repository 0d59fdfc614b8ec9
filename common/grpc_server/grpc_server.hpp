#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/security/security_config.hpp"

namespace rainbow::grpc_server {

// A method a service serves on grpc++'s completion-queue API instead of a sync handler (for a call
// that waits on I/O without holding a thread). GrpcServer gives it a completion queue for new calls
// and a thread, and stops it in the order grpc++ requires.
class AsyncPart {
 public:
  virtual ~AsyncPart() = default;
  // Runs on a thread of its own from Start on: asks for calls on `arrivals` and takes them until
  // arrivals->Next says the queue is shut down, then returns.
  virtual void Serve(grpc::ServerCompletionQueue* arrivals) = 0;
  // Called once during Shutdown, after the server stopped taking calls and before `arrivals` is shut
  // down: from its return on, Serve must not ask for calls any more (grpc++ aborts on a request made
  // on a queue that is shut down); it goes on taking what is queued.
  virtual void StopAsking() = 0;
  // Called once during Shutdown, after the server stopped (in-flight calls had their drain time, the
  // rest are cancelled) and Serve returned, before the server is destroyed: every call this
  // part still holds must be finished by the time this returns.
  virtual void FinishAll() = 0;
};

// The gRPC side of every service: health checking protocol (grpc.health.v1) and server reflection on,
// services registered by the caller (not owned; they must outlive the server). Shutdown drains: the
// health status turns NOT_SERVING, new calls are refused, in-flight calls get `drain` to finish and are
// then cancelled. Start from main, then Shutdown once, from any one thread; the rest is thread-safe.
class GrpcServer {
 public:
  // sync_max_pollers: threads polling for new calls (gRPC's default is 2, which makes the sync server
  // create and end a thread for nearly every call once more calls run at once); 0 keeps the default.
  explicit GrpcServer(std::string addr, int max_message_bytes = 16 * 1024 * 1024, int sync_max_pollers = 0);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // health_name: the service's full name (e.g. Stub::service_full_name()), so grpc.health.v1 answers
  // for it too, not only for the whole server ("").
  void AddService(grpc::Service* service, std::string health_name = "");
  // Before Start: `part` serves the async methods of a service added with AddService (not owned; it
  // must outlive the server).
  void AddAsyncPart(AsyncPart* part);
  // Before Start: serve TLS (mTLS with a client CA) as `tls` says; plaintext if never called.
  void UseTls(const security::ServerTlsConfig& tls) { tls_ = tls; }
  // Before Start: at most `max_threads` threads run synchronous calls (gRPC's thread quota, pollers
  // included); a call arriving when none is free is answered RESOURCE_EXHAUSTED at once, so a flood
  // of slow calls costs neither unbounded threads nor an unbounded queue. 0: no limit.
  void LimitThreads(int max_threads) { max_threads_ = max_threads; }
  // Throws std::runtime_error naming the address if it cannot be bound.
  void Start();
  // The bound port (useful with "127.0.0.1:0").
  int port() const { return port_; }
  void Shutdown(std::chrono::milliseconds drain);
  // What grpc.health.v1 reports for every service (and ""): SERVING from Start on unless this said
  // otherwise, before or after Start. Callable from any thread; Shutdown turns it NOT_SERVING for good.
  void SetServing(bool serving);
  // Makes grpc.health.v1 follow the service's readiness: `not_ready_reason` (what /readyz asks; empty
  // = ready) is called every `interval` on a thread of its own, until Shutdown, and SetServing follows
  // it. So a load balancer or client probing gRPC health stops sending calls when /readyz says 503.
  // Liveness must then be /healthz: a dependency's outage is not a reason to restart the process.
  void FollowReadiness(std::function<std::string()> not_ready_reason,
                       std::chrono::milliseconds interval = std::chrono::seconds(1));

 private:
  void ApplyServingLocked();
  void StopFollowing();

  std::string addr_;
  security::ServerTlsConfig tls_;
  int max_message_bytes_;
  int sync_max_pollers_;
  int max_threads_ = 0;
  std::vector<grpc::Service*> services_;
  std::vector<std::string> health_names_;
  std::mutex health_mu_;  // serving_ and the health service against Start/Shutdown on another thread
  bool serving_ = true;
  bool shut_down_ = false;
  std::vector<AsyncPart*> async_parts_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> arrival_queues_;  // one per async part
  std::vector<std::thread> async_threads_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::thread follower_;
  std::mutex follow_mu_;
  std::condition_variable follow_cv_;
  bool stop_following_ = false;
};

}  // namespace rainbow::grpc_server
