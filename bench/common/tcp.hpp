// Blocking TCP helpers for the benchmarks' own clients (epoll loops over plain sockets).
#pragma once

#include <cstddef>
#include <string>
#include <utility>

namespace rainbow::bench {

// A TCP connection to a numeric IPv4 host with TCP_NODELAY; throws naming the address on failure.
int ConnectTcp(const std::string& host, int port);

// Writes all of data[0, size) on a blocking socket; throws when the peer is gone.
void SendAll(int fd, const char* data, size_t size);

// "host:port" (an optional "scheme://" in front and "/path" behind are skipped) split into its parts.
std::pair<std::string, int> SplitHostPort(const std::string& address);

}  // namespace rainbow::bench
