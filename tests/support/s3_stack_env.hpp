#pragma once

#include <cstdlib>

#include "common/s3/types.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::testing {

// The test stack's S3 server, from the S3_* vars of `scripts/stack --test env`.
inline s3::S3Config S3ConfigFromStack() {
  s3::S3Config c;
  c.endpoint = StackEnv("S3_ENDPOINT");
  c.region = StackEnv("S3_REGION");
  c.access_key = StackEnv("S3_ACCESS_KEY");
  c.secret_key = StackEnv("S3_SECRET_KEY");
  if (const char* ca = std::getenv("S3_CA_FILE")) c.ca_file = ca;  // a stack started with --tls
  return c;
}

}  // namespace rainbow::testing
