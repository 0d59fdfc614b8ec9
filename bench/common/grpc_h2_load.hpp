// A lean closed-loop load generator for unary gRPC calls: HTTP/2 spoken directly with nghttp2 (framing
// and HPACK only) over plain sockets, one epoll loop per instance. The benchmarks run on the same 2
// cores as the servers they measure, so the load generator's CPU comes out of the measured side's
// share. The C++ gRPC library's client costs ~0.05-0.1 ms of CPU per call here, several times what
// pgbench's or redis-benchmark's clients spend per request; this one puts the same bytes on the wire
// (the same headers, the request's protobuf in a gRPC length-prefixed message) for about a third.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace rainbow::bench {

using Clock = std::chrono::steady_clock;

// What a slot sends next: the method's path ("/package.Service/Method") and the request's protobuf bytes.
struct UnaryRequest {
  std::string_view path;  // must stay valid until the reply (a string literal or a member of the caller)
  std::string message;
};

// One reply. `ok` means HTTP 200, grpc-status 0 and one whole uncompressed message; `message` is that
// message's protobuf bytes, valid only during the callback.
struct UnaryReply {
  bool ok = false;
  std::string_view message;
  std::string_view grpc_status;  // as received ("" when none came)
  double latency_ms = 0;
};

// Owns its connections; used by one thread at a time (the one calling Run). Slots are numbered
// 0 .. connections * streams_per_connection - 1; slot i lives on connection i % connections.
class GrpcH2Load {
 public:
  using Next = std::function<void(int slot, UnaryRequest& out)>;
  using Done = std::function<void(int slot, const UnaryReply& reply)>;

  // Connects and exchanges HTTP/2 SETTINGS with host:port (numeric IPv4); throws if it cannot.
  GrpcH2Load(const std::string& host, int port, int connections, int streams_per_connection, Next next,
             Done done);
  ~GrpcH2Load();
  GrpcH2Load(const GrpcH2Load&) = delete;
  GrpcH2Load& operator=(const GrpcH2Load&) = delete;

  // Every slot keeps one call outstanding (each reply's Done is followed by that slot's Next) until
  // `end`; returns when the calls in flight at `end` have answered. May be called again.
  void Run(Clock::time_point end);

  struct Connection;
  struct Slot;

 private:
  void Start(Slot& slot);
  void Finish(Slot& slot);

  Next next_;
  Done done_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Slot>> slots_;
  int epoll_fd_ = -1;
};

}  // namespace rainbow::bench
