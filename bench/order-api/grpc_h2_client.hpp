// order_api_load's lean gRPC client (nghttp2 over plain sockets); see grpc_h2_client.cpp for why.
#pragma once

#include "bench/order-api/load_support.hpp"

namespace rainbow::order::load {

// One thread of the client (a ClientThread): its share of the connections, each with one CreateOrder
// call outstanding, until `end_at`. A call counts as an error unless HTTP 200, grpc-status 0 and a
// response message arrived.
void GrpcH2Thread(const Options& o, int thread, const std::function<void()>& ready,
                  const std::shared_future<Clock::time_point>& end_at, WorkerResult& out);

}  // namespace rainbow::order::load
