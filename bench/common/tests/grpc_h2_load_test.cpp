// The lean load generator against a real gRPC server (the C++ library's, in process, with its
// standard health and reflection services): replies that succeed are delivered with their message, failed
// statuses are reported as failures, and several streams per connection stay apart.
#include <absl/synchronization/mutex.h>
#include <arpa/inet.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <thread>

#include "bench/common/grpc_h2_load.hpp"

namespace rainbow::bench {
namespace {

constexpr std::string_view kCheck = "/grpc.health.v1.Health/Check";

// grpc.health.v1.HealthCheckRequest{service = name}, encoded by hand (field 1, length-delimited).
std::string CheckRequest(const std::string& name) {
  return name.empty() ? std::string() : std::string{'\x0a', static_cast<char>(name.size())} + name;
}

// A socket listening on a free loopback port that nobody serves: {fd, port}, fd -1 on failure.
std::pair<int, int> Listen() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd, 1) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return {-1, 0};
  }
  return {fd, ntohs(addr.sin_port)};
}

class HealthServer {
 public:
  HealthServer() {
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    grpc::EnableDefaultHealthCheckService(true);
    // Reflection is a sync service: without one, nothing would poll the server's completion queues.
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    server_ = builder.BuildAndStart();
    server_->GetHealthCheckService()->SetServingStatus("known", true);
  }
  ~HealthServer() { server_->Shutdown(); }
  int port() const { return port_; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST(GrpcH2Load, RepliesCarryTheirMessageAndFailuresTheirStatus) {
  HealthServer server;
  ASSERT_GT(server.port(), 0);
  // 2 connections x 3 streams; even slots ask about a service the server knows (SERVING), odd
  // slots about one it does not (NOT_FOUND, status 5).
  std::map<int, int> ok, failed;
  std::map<int, std::string> last_message, last_status;
  GrpcH2Load load(
      "127.0.0.1", server.port(), 2, 3,
      [](int slot, UnaryRequest& req) {
        req.path = kCheck;
        req.message = CheckRequest(slot % 2 == 0 ? "known" : "unknown");
      },
      [&](int slot, const UnaryReply& reply) {
        (reply.ok ? ok : failed)[slot]++;
        last_message[slot] = std::string(reply.message);
        last_status[slot] = std::string(reply.grpc_status);
        EXPECT_GT(reply.latency_ms, 0);
      });
  load.Run(Clock::now() + std::chrono::milliseconds(300));
  for (int slot = 0; slot < 6; ++slot) {
    SCOPED_TRACE("slot " + std::to_string(slot));
    if (slot % 2 == 0) {
      EXPECT_GT(ok[slot], 0);
      EXPECT_EQ(failed[slot], 0);
      EXPECT_EQ(last_message[slot], std::string("\x08\x01"));  // HealthCheckResponse{status: SERVING}
      EXPECT_EQ(last_status[slot], "0");
    } else {
      EXPECT_EQ(ok[slot], 0);
      EXPECT_GT(failed[slot], 0);
      EXPECT_EQ(last_status[slot], "5");
    }
  }
  // Run again on the same connections: the load can be reused between phases.
  const int before = ok[0];
  load.Run(Clock::now() + std::chrono::milliseconds(100));
  EXPECT_GT(ok[0], before);
}

TEST(GrpcH2Load, ThrowsWhenNothingListens) {
  EXPECT_THROW(GrpcH2Load(
                   "127.0.0.1", 1, 1, 1, [](int, UnaryRequest&) {}, [](int, const UnaryReply&) {}),
               std::runtime_error);
}

TEST(GrpcH2Load, ThrowsWhenTheServerDoesNotSpeakHttp2) {
  // A listening socket that accepts and closes at once: the SETTINGS exchange must fail, not hang.
  const auto [fd, port] = Listen();
  ASSERT_GE(fd, 0);
  std::thread closer([fd] {
    const int c = accept(fd, nullptr, nullptr);
    if (c >= 0) close(c);
  });
  EXPECT_THROW(GrpcH2Load(
                   "127.0.0.1", port, 1, 1, [](int, UnaryRequest&) {}, [](int, const UnaryReply&) {}),
               std::runtime_error);
  closer.join();
  close(fd);
}

TEST(GrpcH2Load, ThrowsWhenTheServerStaysSilent) {
  // Accepts (the kernel does, on listen) and never answers: the handshake gives up instead of hanging.
  const auto [fd, port] = Listen();
  ASSERT_GE(fd, 0);
  try {
    GrpcH2Load load(
        "127.0.0.1", port, 1, 1, [](int, UnaryRequest&) {}, [](int, const UnaryReply&) {});
    ADD_FAILURE() << "constructed without the server's SETTINGS";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no HTTP/2 SETTINGS"), std::string::npos) << e.what();
  }
  close(fd);
}

}  // namespace
}  // namespace rainbow::bench
