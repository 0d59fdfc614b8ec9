#include "common/ops/ops_http_server.hpp"

#include <CivetServer.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <vector>

#include "common/ops/metrics.hpp"

namespace rainbow::ops {
namespace {

void Reply(mg_connection* conn, int status, const std::string& content_type, const std::string& body) {
  const char* reason = status == 200 ? "OK" : (status == 503 ? "Service Unavailable" : "Error");
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
            "Connection: close\r\n\r\n",
            status, reason, content_type.c_str(), body.size());
  mg_write(conn, body.data(), body.size());
}

// Why not ready ("" when ready); an exception is a reason too.
std::string Evaluate(const ReadinessCheck& check) {
  try {
    return check ? check() : "";
  } catch (const std::exception& e) {
    return e.what();
  }
}

// /metrics: the service's registry, plus service_ready (what /readyz says, as 1 or 0, evaluated at the
// scrape), so dashboards and alerts see readiness without probing every pod.
class MetricsHandler final : public CivetHandler {
 public:
  MetricsHandler(std::shared_ptr<prometheus::Registry> registry, ReadinessCheck check)
      : registry_(std::move(registry)), check_(std::move(check)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    std::string body = RenderMetrics(*registry_);
    body +=
        "# HELP service_ready 1 when the service is ready to take traffic (as /readyz), else 0.\n"
        "# TYPE service_ready gauge\nservice_ready ";
    body += Evaluate(check_).empty() ? "1\n" : "0\n";
    Reply(conn, 200, "text/plain; version=0.0.4; charset=utf-8", body);
    return true;
  }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  ReadinessCheck check_;
};

class HealthHandler final : public CivetHandler {
 public:
  bool handleGet(CivetServer*, mg_connection* conn) override {
    Reply(conn, 200, "application/json", R"({"status":"ok"})");
    return true;
  }
};

class ReadyHandler final : public CivetHandler {
 public:
  ReadyHandler(ReadinessCheck check, std::function<std::vector<std::string>()> failing)
      : check_(std::move(check)), failing_(std::move(failing)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    const std::string reason = Evaluate(check_);
    if (reason.empty()) {
      Reply(conn, 200, "application/json", R"({"status":"ready"})");
    } else {
      auto failing = failing_();
      if (failing.empty()) failing.push_back("readiness");  // changed between the two reads
      Reply(conn, 503, "application/json",
            nlohmann::json{{"status", "not ready"}, {"failing", failing}}.dump());
    }
    return true;
  }

 private:
  ReadinessCheck check_;
  std::function<std::vector<std::string>()> failing_;
};

}  // namespace

struct OpsHttpServer::Handlers {
  MetricsHandler metrics;
  HealthHandler health;
  ReadyHandler ready;
};

std::pair<std::string, int> SplitHostPort(const std::string& addr, const std::string& what) {
  const auto colon = addr.rfind(':');
  if (colon == std::string::npos || colon + 1 == addr.size()) {
    throw std::invalid_argument(what + "='" + addr + "' is not host:port");
  }
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(addr.substr(colon + 1), &used);
    if (used != addr.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) throw std::invalid_argument(what + "='" + addr + "' has an invalid port");
  std::string host = addr.substr(0, colon);
  if (host.empty()) host = "0.0.0.0";
  return {host, port};
}

OpsHttpServer::OpsHttpServer(const std::string& addr, std::shared_ptr<prometheus::Registry> registry,
                             ReadinessCheck ready)
    : OpsHttpServer(addr, std::move(registry), ready, [] { return std::vector<std::string>{"readiness"}; }) {}

OpsHttpServer::OpsHttpServer(const std::string& addr, std::shared_ptr<prometheus::Registry> registry,
                             ReadinessCheck ready, FailingList failing)
    : handlers_(new Handlers{MetricsHandler(std::move(registry), ready), HealthHandler(),
                             ReadyHandler(ready, std::move(failing))}) {
  auto [host, port] = SplitHostPort(addr, "HTTP_ADDR");
  const std::vector<std::string> options = {"listening_ports", host + ":" + std::to_string(port),
                                            "num_threads", "4"};
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot serve HTTP on " + addr + ": " + e.what());
  }
  server_->addHandler("/metrics", handlers_->metrics);
  server_->addHandler("/healthz", handlers_->health);
  server_->addHandler("/readyz", handlers_->ready);
  const auto ports = server_->getListeningPorts();
  port_ = ports.empty() ? port : ports.front();
}

OpsHttpServer::OpsHttpServer(const std::string& addr, std::shared_ptr<prometheus::Registry> registry,
                             const Readiness& readiness)
    : OpsHttpServer(
          addr, std::move(registry), [&readiness] { return readiness.NotReadyReason(); },
          [&readiness] { return readiness.FailingComponents(); }) {}

OpsHttpServer::~OpsHttpServer() {
  if (server_) server_->close();
}

}  // namespace rainbow::ops
