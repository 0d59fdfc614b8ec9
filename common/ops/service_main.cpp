#include "common/ops/service_main.hpp"

namespace rainbow::ops {

CommonConfig LoadCommonConfig(config::Env& env, const std::string& default_grpc_addr,
                              const std::string& default_http_addr) {
  CommonConfig c;
  c.grpc_addr = env.String("GRPC_ADDR", default_grpc_addr, "gRPC listen address host:port");
  c.http_addr = env.String("HTTP_ADDR", default_http_addr, "HTTP address for /metrics, /healthz, /readyz");
  c.log_level = env.Choice("LOG_LEVEL", "info",
                           {"trace", "debug", "info", "warn", "error", "critical", "off"}, "log level");
  return c;
}

}  // namespace rainbow::ops
