#pragma once
// TCP on 127.0.0.1 for the tests' proxies: a listener on a free port, a connection to a port, and
// sending a whole buffer.
#include <string_view>

namespace rainbow::testing {

struct LoopbackListener {
  int fd = -1;
  int port = 0;
};

// Listens on 127.0.0.1 on a port the kernel picks. Throws std::runtime_error when it cannot.
LoopbackListener ListenOnLoopback(int backlog = 64);

// A connected socket to 127.0.0.1:port, or -1.
int ConnectToLoopback(int port);

// Writes all of `data` (no SIGPIPE); false when the peer is gone.
bool SendAll(int fd, std::string_view data);

}  // namespace rainbow::testing
