#include "bench/common/grpc_h2_load.hpp"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "bench/common/tcp.hpp"

namespace rainbow::bench {

// One HTTP/2 connection. nghttp2 calls back into it (and into its slots, as stream user data) only
// from inside mem_recv/mem_send on the thread running the load.
struct GrpcH2Load::Connection {
  int fd = -1;
  nghttp2_session* session = nullptr;
  std::string authority;
  std::string out;              // bytes nghttp2 produced, written with one send
  std::vector<Slot*> finished;  // streams closed during the last mem_recv
  bool settings_seen = false;

  ~Connection() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) close(fd);
  }
};

// One closed-loop caller: the call it has in flight.
struct GrpcH2Load::Slot {
  int index = 0;
  Connection* conn = nullptr;
  UnaryRequest request;
  std::string framed;  // 0 (uncompressed), 4-byte big-endian length, the message
  size_t framed_sent = 0;
  std::string response;
  std::string grpc_status;
  bool http_ok = false, reset = false;
  Clock::time_point started;
};

namespace {

constexpr int kHandshakeSeconds = 10;
// How long calls may stay unanswered after the end before Run gives up on the server.
constexpr auto kStragglerLimit = std::chrono::seconds(30);

using Connection = GrpcH2Load::Connection;
using Slot = GrpcH2Load::Slot;

Slot* SlotOf(nghttp2_session* session, int32_t stream_id) {
  return static_cast<Slot*>(nghttp2_session_get_stream_user_data(session, stream_id));
}

int OnHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void*) {
  Slot* slot = SlotOf(session, frame->hd.stream_id);
  if (slot == nullptr) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") slot->http_ok = v == "200";
  // In the trailers, or in the headers of a trailers-only reply.
  if (n == "grpc-status") slot->grpc_status.assign(v);
  return 0;
}

int OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                void*) {
  if (Slot* slot = SlotOf(session, stream_id))
    slot->response.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
    static_cast<Connection*>(user_data)->settings_seen = true;
  }
  return 0;
}

int OnStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user_data) {
  if (Slot* slot = SlotOf(session, stream_id)) {
    slot->reset = error_code != NGHTTP2_NO_ERROR;
    static_cast<Connection*>(user_data)->finished.push_back(slot);
  }
  return 0;
}

ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                 nghttp2_data_source* source, void*) {
  auto& slot = *static_cast<Slot*>(source->ptr);
  const size_t n = std::min(length, slot.framed.size() - slot.framed_sent);
  std::memcpy(buf, slot.framed.data() + slot.framed_sent, n);
  slot.framed_sent += n;
  if (slot.framed_sent == slot.framed.size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

void ThrowIf(int rv) {
  if (rv < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(rv));
}

// Writes whatever nghttp2 has queued (requests, SETTINGS and PING acks, WINDOW_UPDATEs) in one send.
void Flush(Connection& c) {
  c.out.clear();
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(c.session, &data);
    ThrowIf(static_cast<int>(n));
    if (n == 0) break;
    c.out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (!c.out.empty()) SendAll(c.fd, c.out.data(), c.out.size());
}

// Feeds what one recv returns to nghttp2; throws when the server closed the connection (or, during
// the handshake, did not answer within the socket's receive timeout).
void Receive(Connection& c) {
  char buf[16384];
  const ssize_t got = recv(c.fd, buf, sizeof(buf), 0);
  if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    throw std::runtime_error("no HTTP/2 SETTINGS from the server within " +
                             std::to_string(kHandshakeSeconds) + " s");
  }
  if (got <= 0) throw std::runtime_error("connection closed by the server");
  ThrowIf(static_cast<int>(
      nghttp2_session_mem_recv(c.session, reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(got))));
}

struct Callbacks {
  nghttp2_session_callbacks* raw = nullptr;
  Callbacks() {
    nghttp2_session_callbacks_new(&raw);
    nghttp2_session_callbacks_set_on_header_callback(raw, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(raw, OnDataChunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(raw, OnFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(raw, OnStreamClose);
  }
  ~Callbacks() { nghttp2_session_callbacks_del(raw); }
};

}  // namespace

GrpcH2Load::GrpcH2Load(const std::string& host, int port, int connections, int streams_per_connection,
                       Next next, Done done)
    : next_(std::move(next)), done_(std::move(done)) {
  if (connections < 1 || streams_per_connection < 1) throw std::invalid_argument("GrpcH2Load: no slots");
  const Callbacks callbacks;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < connections; ++i) {
    auto c = std::make_unique<Connection>();
    c->fd = ConnectTcp(host, port);
    timeval handshake{kHandshakeSeconds, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &handshake, sizeof(handshake));
    c->authority = host + ":" + std::to_string(port);
    if (nghttp2_session_client_new(&c->session, callbacks.raw, c.get()) != 0) {
      throw std::runtime_error("nghttp2: cannot create a session");
    }
    const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                               {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    ThrowIf(nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, settings, std::size(settings)));
    Flush(*c);
    // The server's SETTINGS before the clock starts, as the C++ client's WaitForConnected.
    while (!c->settings_seen) {
      Receive(*c);
      Flush(*c);
    }
    timeval none{0, 0};  // from here on the epoll loop decides how long to wait
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = c.get();
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, c->fd, &ev);
    connections_.push_back(std::move(c));
  }
  for (int i = 0; i < connections * streams_per_connection; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->index = i;
    slot->conn = connections_[static_cast<size_t>(i % connections)].get();
    slots_.push_back(std::move(slot));
  }
}

GrpcH2Load::~GrpcH2Load() {
  slots_.clear();
  connections_.clear();
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void GrpcH2Load::Start(Slot& slot) {
  slot.request.message.clear();
  next_(slot.index, slot.request);
  const auto len = static_cast<uint32_t>(slot.request.message.size());
  slot.framed.assign({'\0', static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                      static_cast<char>(len >> 8), static_cast<char>(len)});
  slot.framed += slot.request.message;
  slot.framed_sent = 0;
  slot.response.clear();
  slot.grpc_status.clear();
  slot.http_ok = slot.reset = false;
  const nghttp2_nv headers[] = {Header(":method", "POST"),
                                Header(":scheme", "http"),
                                Header(":path", slot.request.path),
                                Header(":authority", slot.conn->authority),
                                Header("content-type", "application/grpc"),
                                Header("te", "trailers")};
  nghttp2_data_provider provider{};
  provider.source.ptr = &slot;
  provider.read_callback = ReadBody;
  slot.started = Clock::now();
  ThrowIf(nghttp2_submit_request(slot.conn->session, nullptr, headers, std::size(headers), &provider, &slot));
}

void GrpcH2Load::Finish(Slot& slot) {
  UnaryReply reply;
  reply.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - slot.started).count();
  reply.grpc_status = slot.grpc_status;
  const std::string& r = slot.response;
  // One message: flag 0 (uncompressed), then its 4-byte big-endian length, then exactly that many bytes.
  const bool one_message = r.size() >= 5 && r[0] == 0 &&
                           ((static_cast<uint32_t>(static_cast<uint8_t>(r[1])) << 24) |
                            (static_cast<uint32_t>(static_cast<uint8_t>(r[2])) << 16) |
                            (static_cast<uint32_t>(static_cast<uint8_t>(r[3])) << 8) |
                            static_cast<uint32_t>(static_cast<uint8_t>(r[4]))) == r.size() - 5;
  reply.ok = slot.http_ok && !slot.reset && slot.grpc_status == "0" && one_message;
  if (one_message) reply.message = std::string_view(r).substr(5);
  done_(slot.index, reply);
}

void GrpcH2Load::Run(Clock::time_point end) {
  for (auto& slot : slots_) Start(*slot);
  for (auto& c : connections_) Flush(*c);
  size_t outstanding = slots_.size();
  std::vector<epoll_event> events(connections_.size());
  while (outstanding > 0) {
    if (Clock::now() > end + kStragglerLimit) {
      throw std::runtime_error(std::to_string(outstanding) + " calls still unanswered 30 s after the end");
    }
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      auto& c = *static_cast<Connection*>(events[static_cast<size_t>(e)].data.ptr);
      Receive(c);
      const bool more = Clock::now() < end;
      for (Slot* slot : c.finished) {
        Finish(*slot);
        if (more) {
          Start(*slot);
        } else {
          --outstanding;
        }
      }
      c.finished.clear();
      Flush(c);
    }
  }
}

}  // namespace rainbow::bench
