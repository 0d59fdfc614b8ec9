// A probe, not a side of `run`: does PostgreSQL create orders faster when a client keeps several
// independent statements in flight on fewer connections (libpq pipeline mode, a Sync after each
// statement, so each order is still its own transaction)? If it did, order-api's create loop could
// pipeline. It prints orders/s as JSON; compare with pgbench at the same total in-flight count
// (bench/README.md has the A/B).
#include <libpq-fe.h>
#include <poll.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/order-api/load_support.hpp"
#include "services/order-api/src/order_store.hpp"

namespace {

using rainbow::order::CreateOrderInput;
using rainbow::order::OrderStore;
using namespace rainbow::order::load;

struct Probe {
  const Options& options;
  std::mt19937_64 rng{42};
  int64_t orders = 0;
  int64_t errors = 0;

  void Send(PGconn* pg) {
    const RandomOrder order = MakeOrder(rng, options);
    CreateOrderInput input;
    input.customer_id = order.customer;
    input.payment_id = order.payment;
    for (const auto& [product, quantity] : order.lines) input.lines.push_back({product, quantity});
    const auto params = OrderStore::CreateParams(input, "");
    std::vector<const char*> values;
    for (const auto& p : params) values.push_back(p.c_str());
    if (!PQsendQueryPrepared(pg, OrderStore::CreateStatement(false), static_cast<int>(values.size()),
                             values.data(), nullptr, nullptr, 0) ||
        !PQpipelineSync(pg)) {
      throw std::runtime_error(std::string("send: ") + PQerrorMessage(pg));
    }
  }

  // Reads what arrived on `pg`; returns how many statements (Syncs) completed.
  int Read(PGconn* pg) {
    if (!PQconsumeInput(pg)) throw std::runtime_error(std::string("read: ") + PQerrorMessage(pg));
    int completed = 0;
    while (!PQisBusy(pg)) {
      PGresult* r = PQgetResult(pg);
      if (r == nullptr) {  // between two statements' results in pipeline mode
        if (PQisBusy(pg) || PQpipelineStatus(pg) == PQ_PIPELINE_OFF) break;
        r = PQgetResult(pg);
        if (r == nullptr) break;
      }
      const auto status = PQresultStatus(r);
      if (status == PGRES_PIPELINE_SYNC) ++completed;
      if (status == PGRES_FATAL_ERROR) ++errors;
      PQclear(r);
    }
    return completed;
  }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string dsn;
  int connections = 8, depth = 1;
  CLI::App app{"PostgreSQL alone: order creates with libpq pipelining (a probe for the create loop)"};
  app.add_option("--dsn", dsn, "libpq connection string")->required();
  app.add_option("--connections", connections, "connections")->check(CLI::Range(1, 256));
  app.add_option("--depth", depth, "statements in flight per connection")->check(CLI::Range(1, 64));
  app.add_option("--seconds,-T", o.seconds, "duration")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--customers", o.customers, "customer ids are drawn from 1..N");
  app.add_option("--products", o.products, "product ids are drawn from 1..N");
  CLI11_PARSE(app, argc, argv);
  try {
    const auto statements = OrderStore::Statements();
    const char* name = OrderStore::CreateStatement(false);
    std::vector<PGconn*> conns;
    for (int i = 0; i < connections; ++i) {
      PGconn* pg = PQconnectdb(dsn.c_str());
      conns.push_back(pg);
      if (PQstatus(pg) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(pg));
      PGresult* r = PQprepare(pg, name, statements.at(name).c_str(), 0, nullptr);
      const bool prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
      PQclear(r);
      if (!prepared || PQsetnonblocking(pg, 1) != 0 || !PQenterPipelineMode(pg)) {
        throw std::runtime_error(PQerrorMessage(pg));
      }
    }
    Probe probe{o};
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                 std::chrono::duration<double>(o.seconds));
    for (PGconn* pg : conns) {
      for (int d = 0; d < depth; ++d) probe.Send(pg);
    }
    std::vector<pollfd> fds(conns.size());
    int in_flight = connections * depth;
    while (in_flight > 0) {
      for (size_t i = 0; i < conns.size(); ++i) {
        const int unsent = PQflush(conns[i]);
        if (unsent < 0) throw std::runtime_error(PQerrorMessage(conns[i]));
        fds[i] = {PQsocket(conns[i]), static_cast<short>(POLLIN | (unsent ? POLLOUT : 0)), 0};
      }
      poll(fds.data(), fds.size(), 100);
      const bool more = std::chrono::steady_clock::now() < end;
      for (size_t i = 0; i < conns.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLERR | POLLHUP))) continue;
        const int completed = probe.Read(conns[i]);
        probe.orders += completed;
        in_flight -= completed;
        for (int k = 0; k < completed && more; ++k, ++in_flight) probe.Send(conns[i]);
      }
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (PGconn* pg : conns) PQfinish(pg);
    std::cout << nlohmann::json{{"connections", connections},
                                {"depth", depth},
                                {"orders", probe.orders},
                                {"errors", probe.errors},
                                {"tps", static_cast<double>(probe.orders) / elapsed}}
                     .dump()
              << std::endl;
    return probe.errors > 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "pg_pipeline_probe: " << e.what() << std::endl;
    return 1;
  }
}
