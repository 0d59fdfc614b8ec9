#include "common/s3/config_env.hpp"

#include <chrono>

namespace rainbow::s3 {

S3Config ConfigFromEnv(config::Env& env, const std::string& purpose) {
  S3Config c;
  c.endpoint = env.RequireString("S3_ENDPOINT", purpose + ", e.g. http://127.0.0.1:9000");
  c.ca_file =
      env.String("S3_CA_FILE", "", "PEM CA bundle for an https S3_ENDPOINT (default: system trust store)");
  c.region = env.String("S3_REGION", "us-east-1", "S3 region");
  c.access_key = env.RequireSecret("S3_ACCESS_KEY", "S3 access key");
  c.secret_key = env.RequireSecret("S3_SECRET_KEY", "S3 secret key");
  c.connect_timeout =
      env.Duration("S3_CONNECT_TIMEOUT", c.connect_timeout, "connecting to S3 fails after this");
  const auto stall = env.Duration(
      "S3_STALL_TIMEOUT", c.stall_timeout,
      "a request that moves no byte for this long is abandoned and retried (whole seconds, at least 1s)");
  if (!env.describing() && stall < std::chrono::seconds(1)) {
    throw config::ConfigError("S3_STALL_TIMEOUT", "config: S3_STALL_TIMEOUT must be at least 1s, got " +
                                                      std::to_string(stall.count()) + "ms");
  }
  c.stall_timeout = std::chrono::duration_cast<std::chrono::seconds>(stall + std::chrono::milliseconds(999));
  return c;
}

}  // namespace rainbow::s3
