#pragma once

#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <string>
#include <string_view>

#include "common/config/env.hpp"
#include "common/logging/log.hpp"
#include "common/ops/termination.hpp"
#include "common/security/security_config.hpp"

namespace rainbow::ops {

struct ServiceInfo {
  std::string name;     // e.g. "order-api"
  std::string version;  // e.g. RAINBOW_VERSION
  std::string summary;  // one line for --help
};

// The settings every service reads under the shared names of shared/DESIGN.md.
struct CommonConfig {
  std::string grpc_addr;
  std::string http_addr;  // validated as host:port (a ConfigError naming HTTP_ADDR otherwise)
  std::string log_level;
  // DRAIN_TIMEOUT: on SIGTERM, how long in-flight work (gRPC and REST calls, conversions) may take to
  // finish once /readyz says 503; then it is cancelled.
  std::chrono::milliseconds drain_timeout{};
  security::ServerTlsConfig grpc_tls;  // GRPC_TLS_*: plaintext when unset
  security::AuthConfig auth;           // AUTH_TOKENS_FILE: every call allowed when unset
  // GRPC_MAX_THREADS: threads the gRPC server may run synchronous calls on (its pollers included); a
  // call that finds none free is answered RESOURCE_EXHAUSTED at once instead of waiting in a queue.
  int grpc_max_threads = 256;
};

// default_drain: the service's default for DRAIN_TIMEOUT (what its longest in-flight work needs).
CommonConfig LoadCommonConfig(config::Env& env, const std::string& default_grpc_addr,
                              const std::string& default_http_addr,
                              std::chrono::milliseconds default_drain = std::chrono::seconds(10));

// The shape of every service's main: `--help` lists the env vars (by running `load` in describe
// mode), `--version` prints the version; otherwise signals are blocked, the config is loaded (a
// ConfigError exits 2 naming the var, on stderr and as a JSON log line), and `run` gets it.
// `run` returns the process exit code; an escaping exception is logged and exits 1.
template <typename Config>
int RunService(const ServiceInfo& info, int argc, char** argv, std::function<Config(config::Env&)> load,
               std::function<int(const Config&)> run) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      auto describe = config::Env::Describe();
      load(describe);
      std::cout << config::FormatHelp(info.name, info.summary, describe.docs());
      return 0;
    }
    if (arg == "--version") {
      std::cout << info.name << " " << info.version << "\n";
      return 0;
    }
    std::cerr << info.name << ": unknown argument '" << arg
              << "' (configuration is by env vars; see --help)\n";
    return 2;
  }
  BlockTerminationSignals();
  const char* level = std::getenv("LOG_LEVEL");
  try {
    log::Init(info.name, level != nullptr && *level != '\0' ? level : "info");
  } catch (const std::exception& e) {
    std::cerr << info.name << ": config: " << e.what() << "\n";
    return 2;
  }
  Config cfg;
  try {
    config::Env env;
    cfg = load(env);
  } catch (const config::ConfigError& e) {
    std::cerr << info.name << ": " << e.what() << "\n";
    log::Error("invalid configuration", {{"var", e.var()}, {"error", e.what()}});
    return 2;
  }
  try {
    log::Info("starting", {{"version", info.version}});
    return run(cfg);
  } catch (const std::exception& e) {
    log::Error("fatal error", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace rainbow::ops
