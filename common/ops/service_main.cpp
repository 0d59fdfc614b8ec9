#include "common/ops/service_main.hpp"

#include <stdexcept>

#include "common/ops/ops_http_server.hpp"

namespace rainbow::ops {

CommonConfig LoadCommonConfig(config::Env& env, const std::string& default_grpc_addr,
                              const std::string& default_http_addr, std::chrono::milliseconds default_drain) {
  CommonConfig c;
  c.grpc_addr = env.String("GRPC_ADDR", default_grpc_addr, "gRPC listen address host:port");
  c.http_addr = env.String("HTTP_ADDR", default_http_addr, "HTTP address for /metrics, /healthz, /readyz");
  if (!env.describing()) {
    try {
      SplitHostPort(c.http_addr, "HTTP_ADDR");
    } catch (const std::invalid_argument& e) {
      throw config::ConfigError("HTTP_ADDR", e.what());
    }
  }
  c.log_level = env.Choice("LOG_LEVEL", "info",
                           {"trace", "debug", "info", "warn", "error", "critical", "off"}, "log level");
  c.drain_timeout = env.Duration("DRAIN_TIMEOUT", default_drain,
                                 "on SIGTERM: time in-flight work may take to finish before it is cancelled");
  c.grpc_tls = security::LoadServerTls(env);
  c.auth = security::LoadAuth(env);
  c.grpc_max_threads = static_cast<int>(
      env.Int("GRPC_MAX_THREADS", 256, 4, 65536,
              "threads for synchronous gRPC calls (pollers included); a call finding none free is "
              "RESOURCE_EXHAUSTED"));
  return c;
}

}  // namespace rainbow::ops
