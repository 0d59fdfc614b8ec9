#include "bench/common/tcp.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace rainbow::bench {

int ConnectTcp(const std::string& host, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port));
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

void SendAll(int fd, const char* data, size_t size) {
  for (size_t off = 0; off < size;) {
    const ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send failed: the peer closed the connection");
    off += static_cast<size_t>(n);
  }
}

std::pair<std::string, int> SplitHostPort(const std::string& address) {
  const auto scheme = address.find("://");
  std::string hostport = address.substr(scheme == std::string::npos ? 0 : scheme + 3);
  if (const auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("address without a port: " + address);
  return {hostport.substr(0, colon), std::stoi(hostport.substr(colon + 1))};
}

}  // namespace rainbow::bench
