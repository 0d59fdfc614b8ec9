// The lean gRPC client of order_api_load: unary CreateOrder calls spoken directly over HTTP/2 with
// nghttp2 (framing and HPACK only), one connection per client, each thread driving its connections
// from one epoll loop. It exists because the benchmark's 2 cores are shared with PostgreSQL and
// order-api: the C++ gRPC library's client costs ~0.09-0.1 ms of CPU per call here, three times what
// pgbench's libpq client costs per transaction, and that CPU comes out of PostgreSQL's share. This
// client puts the same bytes on the wire (the request's protobuf in a gRPC length-prefixed message,
// the same headers) for about a third of that, so the comparison with pgbench measures order-api.
#include "bench/order-api/grpc_h2_client.hpp"

#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "rainbow/order_api.pb.h"

namespace rainbow::order::load {
namespace {

constexpr std::string_view kPath = "/rainbow.order.v1.OrderService/CreateOrder";

// One client: its socket, its HTTP/2 session and the call in flight (one at a time, closed loop).
// Owned by its thread; nghttp2 calls back into it only from inside that thread's mem_recv/mem_send.
struct H2Connection {
  int fd = -1;
  nghttp2_session* session = nullptr;
  std::string authority;
  std::vector<std::string> bodies;  // gRPC messages: 0 (uncompressed), 4-byte big-endian length, protobuf
  size_t next = 0;
  std::string out;  // bytes nghttp2 produced, written with one send

  bool settings_seen = false;
  int32_t stream = -1;
  const std::string* body = nullptr;
  size_t body_sent = 0;
  bool http_ok = false, grpc_ok = false, closed = false, reset = false;
  size_t response_bytes = 0;
  Clock::time_point sent;

  ~H2Connection() {
    if (session != nullptr) nghttp2_session_del(session);
    if (fd >= 0) close(fd);
  }
};

H2Connection& Of(void* user_data) { return *static_cast<H2Connection*>(user_data); }

int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
             const uint8_t* value, size_t valuelen, uint8_t, void* user_data) {
  auto& c = Of(user_data);
  if (frame->hd.stream_id != c.stream) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") c.http_ok = v == "200";
  if (n == "grpc-status")
    c.grpc_ok = v == "0";  // in the trailers, or in the headers of a trailers-only reply
  return 0;
}

int OnDataChunk(nghttp2_session*, uint8_t, int32_t stream_id, const uint8_t*, size_t len, void* user_data) {
  auto& c = Of(user_data);
  if (stream_id == c.stream) c.response_bytes += len;
  return 0;
}

int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
    Of(user_data).settings_seen = true;
  }
  return 0;
}

int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
  auto& c = Of(user_data);
  if (stream_id == c.stream) {
    c.closed = true;
    c.reset = error_code != NGHTTP2_NO_ERROR;
  }
  return 0;
}

ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                 nghttp2_data_source*, void* user_data) {
  auto& c = Of(user_data);
  const size_t n = std::min(length, c.body->size() - c.body_sent);
  std::memcpy(buf, c.body->data() + c.body_sent, n);
  c.body_sent += n;
  if (c.body_sent == c.body->size()) *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

// Writes whatever nghttp2 has queued (frames, SETTINGS and WINDOW_UPDATE acks) in one send.
void Flush(H2Connection& c) {
  c.out.clear();
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(c.session, &data);
    if (n < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(n)));
    if (n == 0) break;
    c.out.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
  }
  if (!c.out.empty()) SendAll(c.fd, c.out.data(), c.out.size());
}

// Feeds received bytes to nghttp2; throws when the connection is gone or the bytes are not HTTP/2.
void Receive(H2Connection& c) {
  char buf[16384];
  const ssize_t got = recv(c.fd, buf, sizeof(buf), 0);
  if (got <= 0) throw std::runtime_error("connection closed by order-api");
  const ssize_t used =
      nghttp2_session_mem_recv(c.session, reinterpret_cast<const uint8_t*>(buf), static_cast<size_t>(got));
  if (used < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(used)));
}

void StartCall(H2Connection& c) {
  c.body = &c.bodies[c.next++ % c.bodies.size()];
  c.body_sent = 0;
  c.http_ok = c.grpc_ok = c.closed = c.reset = false;
  c.response_bytes = 0;
  const nghttp2_nv headers[] = {Header(":method", "POST"),
                                Header(":scheme", "http"),
                                Header(":path", kPath),
                                Header(":authority", c.authority),
                                Header("content-type", "application/grpc"),
                                Header("te", "trailers")};
  nghttp2_data_provider provider{};
  provider.read_callback = ReadBody;
  c.sent = Clock::now();
  c.stream = nghttp2_submit_request(c.session, nullptr, headers, std::size(headers), &provider, &c);
  if (c.stream < 0) throw std::runtime_error(std::string("nghttp2: ") + nghttp2_strerror(c.stream));
  Flush(c);
}

std::string GrpcMessage(const RandomOrder& order) {
  v1::CreateOrderRequest req;
  req.set_customer_id(order.customer);
  req.set_payment_id(order.payment);
  for (auto [p, q] : order.lines) {
    auto* l = req.add_products();
    l->set_product_id(p);
    l->set_quantity(q);
  }
  const std::string bytes = req.SerializeAsString();
  const auto len = static_cast<uint32_t>(bytes.size());
  std::string framed{'\0', static_cast<char>(len >> 24), static_cast<char>(len >> 16),
                     static_cast<char>(len >> 8), static_cast<char>(len)};
  return framed + bytes;
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

// Connects, exchanges SETTINGS (before the clock starts, as the grpc++ client's WaitForConnected does).
void Open(H2Connection& c, const Callbacks& callbacks, const std::string& host, int port) {
  c.fd = ConnectTcp(host, port);
  c.authority = host + ":" + std::to_string(port);
  if (nghttp2_session_client_new(&c.session, callbacks.raw, &c) != 0)
    throw std::runtime_error("nghttp2 session");
  const nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                             {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  nghttp2_submit_settings(c.session, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  Flush(c);
  while (!c.settings_seen) {
    Receive(c);
    Flush(c);
  }
}

}  // namespace

void GrpcH2Thread(const Options& o, int thread, const std::function<void()>& ready,
                  const std::shared_future<Clock::time_point>& end_at, WorkerResult& out) {
  const auto [host, port] = SplitHostPort(o.grpc_addr);
  const Callbacks callbacks;
  std::vector<std::unique_ptr<H2Connection>> conns;
  for (int client : ConnectionsOfThread(o, thread)) {
    auto c = std::make_unique<H2Connection>();
    std::mt19937_64 rng(static_cast<uint64_t>(1000 + client));  // the same orders as the other clients
    for (int i = 0; i < kRing; ++i) c->bodies.push_back(GrpcMessage(MakeOrder(rng, o)));
    Open(*c, callbacks, host, port);
    conns.push_back(std::move(c));
  }
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  for (size_t i = 0; i < conns.size(); ++i) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i]->fd, &ev);
  }
  ready();
  const auto end = end_at.get();
  for (auto& c : conns) StartCall(*c);
  size_t outstanding = conns.size();
  std::vector<epoll_event> events(conns.size());
  while (outstanding > 0) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      auto& c = *conns[events[static_cast<size_t>(e)].data.u64];
      Receive(c);
      if (!c.closed) {
        Flush(c);  // acks and window updates
        continue;
      }
      const auto now = Clock::now();
      if (c.http_ok && c.grpc_ok && !c.reset && c.response_bytes > 5) {
        out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - c.sent).count());
      } else {
        out.errors++;
      }
      c.closed = false;
      c.stream = -1;
      if (now < end) {
        StartCall(c);
      } else {
        Flush(c);
        --outstanding;
      }
    }
  }
  close(ep);
}

}  // namespace rainbow::order::load
