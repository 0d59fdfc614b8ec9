#include "common/redis/tls_tunnel.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <utility>

namespace rainbow::redis {

namespace {

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  std::array<char, 256> text{};
  ERR_error_string_n(code, text.data(), text.size());
  return text.data();
}

struct Fd {
  int fd = -1;
  explicit Fd(int f = -1) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int release() { return std::exchange(fd, -1); }
};

void SetNonBlocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  ::fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
}

// A TCP connection within `timeout`, trying each address the name resolves to.
int ConnectTcp(const std::string& host, int port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    throw std::runtime_error("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, ::freeaddrinfo);
  std::string last = "no address";
  for (auto* a = found; a != nullptr; a = a->ai_next) {
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.fd < 0) continue;
    SetNonBlocking(fd.fd, true);
    if (::connect(fd.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      last = std::strerror(errno);
      continue;
    }
    pollfd p{fd.fd, POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      last = "connect timed out";
      continue;
    }
    int error = 0;
    socklen_t len = sizeof(error);
    ::getsockopt(fd.fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) {
      last = std::strerror(error);
      continue;
    }
    return fd.release();
  }
  throw std::runtime_error("cannot connect to " + host + ":" + std::to_string(port) + ": " + last);
}

// After an SSL_read/SSL_write that moved nothing: notes what the TLS connection waits for; false when
// it closed or failed.
bool NoteWant(SSL* ssl, int result, bool& wants_read, bool& wants_write) {
  const int e = SSL_get_error(ssl, result);
  if (e == SSL_ERROR_WANT_READ) return wants_read = true;
  if (e == SSL_ERROR_WANT_WRITE) return wants_write = true;
  return false;
}

// Moves bytes between the plain local socket and the TLS connection until either side closes.
void Pump(SSL* ssl, int tcp, int local) {
  std::array<char, 16384> up{}, down{};  // up: local -> server, down: server -> local
  size_t up_len = 0, up_off = 0, down_len = 0, down_off = 0;
  bool open = true;
  while (open) {
    bool progress = false;
    bool ssl_wants_read = false, ssl_wants_write = false;
    if (up_len == 0) {
      const ssize_t n = ::read(local, up.data(), up.size());
      if (n > 0) {
        up_len = static_cast<size_t>(n), up_off = 0, progress = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;  // hiredis closed its end
      }
    }
    if (up_len > 0) {
      const int n = SSL_write(ssl, up.data() + up_off, static_cast<int>(up_len - up_off));
      if (n > 0) {
        up_off += static_cast<size_t>(n), progress = true;
        if (up_off == up_len) up_len = 0;
      } else {
        if (!NoteWant(ssl, n, ssl_wants_read, ssl_wants_write)) break;
      }
    }
    if (down_len == 0) {
      const int n = SSL_read(ssl, down.data(), static_cast<int>(down.size()));
      if (n > 0) {
        down_len = static_cast<size_t>(n), down_off = 0, progress = true;
      } else {
        if (!NoteWant(ssl, n, ssl_wants_read, ssl_wants_write)) break;  // closed, or failed
      }
    }
    if (down_len > 0) {
      const ssize_t n = ::write(local, down.data() + down_off, down_len - down_off);
      if (n > 0) {
        down_off += static_cast<size_t>(n), progress = true;
        if (down_off == down_len) down_len = 0;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        break;
      }
    }
    if (progress) continue;
    std::array<pollfd, 2> p{};
    p[0] = {local, static_cast<short>((up_len == 0 ? POLLIN : 0) | (down_len > 0 ? POLLOUT : 0)), 0};
    p[1] = {tcp, static_cast<short>((ssl_wants_read ? POLLIN : 0) | (ssl_wants_write ? POLLOUT : 0)), 0};
    if (::poll(p.data(), p.size(), -1) < 0 && errno != EINTR) break;
    if ((p[0].revents & (POLLHUP | POLLERR)) != 0 && (p[0].revents & POLLIN) == 0) open = false;
  }
  SSL_shutdown(ssl);
}

}  // namespace

int ConnectTlsTunnel(const std::string& host, int port, const std::string& ca_file,
                     std::chrono::milliseconds connect_timeout) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) throw std::runtime_error("TLS: " + OpenSslError());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  const bool trust = ca_file.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx.get()) == 1
                         : SSL_CTX_load_verify_locations(ctx.get(), ca_file.c_str(), nullptr) == 1;
  if (!trust) throw std::runtime_error("TLS: cannot load the CA bundle " + ca_file + ": " + OpenSslError());
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

  Fd tcp(ConnectTcp(host, port, connect_timeout));
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
  SSL_set_fd(ssl.get(), tcp.fd);
  // The certificate must name the host we asked for: an IP address as such, else a DNS name (also SNI).
  in6_addr ip{};
  const bool is_ip =
      ::inet_pton(AF_INET, host.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, host.c_str(), &ip) == 1;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  }
  // The handshake, blocking with the connect timeout as its limit.
  SetNonBlocking(tcp.fd, false);
  const timeval tv{static_cast<time_t>(connect_timeout.count() / 1000),
                   static_cast<suseconds_t>((connect_timeout.count() % 1000) * 1000)};
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(tcp.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (SSL_connect(ssl.get()) != 1) {
    const long verify = SSL_get_verify_result(ssl.get());
    const std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : OpenSslError();
    throw std::runtime_error("TLS handshake with " + host + ":" + std::to_string(port) + " failed: " + why);
  }
  SetNonBlocking(tcp.fd, true);

  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
    throw std::runtime_error(std::string("socketpair: ") + std::strerror(errno));
  }
  SetNonBlocking(pair[1], true);
  // The pump owns the TLS connection and its end of the pair; the context stays alive with it.
  std::thread([ctx = std::shared_ptr<SSL_CTX>(ctx.release(), SSL_CTX_free),
               ssl = std::shared_ptr<SSL>(ssl.release(), SSL_free), tcp_fd = tcp.release(), local = pair[1]] {
    Pump(ssl.get(), tcp_fd, local);
    ::close(local);
    ::close(tcp_fd);
  }).detach();
  return pair[0];
}

}  // namespace rainbow::redis
