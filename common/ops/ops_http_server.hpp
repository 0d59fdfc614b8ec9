#pragma once

#include <prometheus/registry.h>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/ops/readiness.hpp"

class CivetServer;

namespace rainbow::ops {

// Why a service is not ready; empty when ready.
using ReadinessCheck = std::function<std::string()>;

// The operations endpoint of every service (HTTP_ADDR): GET /metrics (Prometheus text format),
// GET /healthz (200 while the process runs), GET /readyz (200 when the readiness check passes,
// else 503 with the reason as JSON). Owns its civetweb threads; stops them in the destructor.
class OpsHttpServer {
 public:
  // addr is "host:port"; port 0 picks a free port (see port()). Throws std::runtime_error if the
  // address cannot be bound.
  // /readyz names the one component "readiness" when `ready` says not ready.
  OpsHttpServer(const std::string& addr, std::shared_ptr<prometheus::Registry> registry,
                ReadinessCheck ready);
  // /readyz reports `readiness` (which must outlive this server).
  OpsHttpServer(const std::string& addr, std::shared_ptr<prometheus::Registry> registry,
                const Readiness& readiness);
  ~OpsHttpServer();
  OpsHttpServer(const OpsHttpServer&) = delete;
  OpsHttpServer& operator=(const OpsHttpServer&) = delete;

  int port() const { return port_; }

 private:
  using FailingList = std::function<std::vector<std::string>()>;
  OpsHttpServer(const std::string& addr, std::shared_ptr<prometheus::Registry> registry, ReadinessCheck ready,
                FailingList failing);
  struct Handlers;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

// Splits "host:port", throwing std::invalid_argument naming `what` on a malformed value.
std::pair<std::string, int> SplitHostPort(const std::string& addr, const std::string& what);

}  // namespace rainbow::ops
