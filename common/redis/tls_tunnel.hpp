#pragma once

#include <chrono>
#include <string>

namespace rainbow::redis {

// TLS for hiredis 0.14, which has none (Debian 12's version): a TLS connection to the server, verified
// against `ca_file` (the system's trust store when empty) and the host name (or IP address), is pumped
// by a thread of its own to one end of a socket pair; the other end is returned for redisConnectFd.
// The thread ends, closing the TLS connection, when hiredis closes its end (redisFree) or the server
// closes; nothing else needs stopping. Throws std::runtime_error saying why the connection or the
// handshake failed (never with credentials: none are involved here).
int ConnectTlsTunnel(const std::string& host, int port, const std::string& ca_file,
                     std::chrono::milliseconds connect_timeout);

}  // namespace rainbow::redis
