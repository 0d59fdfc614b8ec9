#pragma once

#include <string>

#include "common/config/env.hpp"
#include "common/s3/types.hpp"

namespace rainbow::s3 {

// The S3 connection every service reads the same way: S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY(_FILE),
// S3_SECRET_KEY(_FILE), S3_CA_FILE, and the two waits that bound a server that stops answering (a
// frozen MinIO takes connections and answers nothing): S3_CONNECT_TIMEOUT and S3_STALL_TIMEOUT.
// `purpose` ends the endpoint's description ("S3 endpoint of the lake", ...).
S3Config ConfigFromEnv(config::Env& env, const std::string& purpose);

}  // namespace rainbow::s3
