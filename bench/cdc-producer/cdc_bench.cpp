// The CDC benchmark: the same PostgreSQL, the same Kafka and the same WAL for (a) cdc-producer, (b) the
// Debezium PostgreSQL connector on Kafka Connect standalone and (c) pg_recvlogical (pgoutput to
// /dev/null, the decode limit). Prints events/s, latency percentiles, CPU and peak RSS, and the ratios.
//
// Throughput run: one slot per contender is created first, then the workload (row changes in
// transactions of 1-100 rows, inserts/updates/deletes mixed) is written once; each contender then drains
// the same retained WAL in turn. Latency run: each Kafka contender streams live while a writer commits a
// mixed workload at a fixed rate; latency = Kafka record timestamp - the row's commit time
// (source.ts_ms). Needs the stack env (PG_DSN, KAFKA_BROKERS) and, for Debezium, the jars fetched by
// bench/cdc-producer/fetch-debezium.sh.
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/common/proc_stats.hpp"
#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/kafka/producer.hpp"
#include "common/pg/connection.hpp"
#include "tests/support/child_process.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using rainbow::testing::ChildProcess;

struct Options {
  std::string dsn;
  std::string brokers;
  std::string producer_bin;
  std::string debezium_libs;
  std::string monitor_dsn;
  std::vector<std::string> contenders{"ours", "recvlogical", "debezium"};
  int changes = 200'000;
  int rate = 2'000;  // latency run: row changes per second
  int latency_seconds = 20;
  int partitions = 3;
  bool latency = true;
};

struct Result {
  std::string name;
  double seconds = 0;        // first event to last event (drain)
  double total_seconds = 0;  // process start to last event
  uint64_t events = 0;
  double cpu_seconds = 0;
  double rss_mb = 0;
  std::optional<double> p50, p99, avg;
  std::string note;
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

using rainbow::bench::CpuSeconds;
using rainbow::bench::PeakRssMb;

// Sum of the high watermarks of a topic's partitions (records ever written; nothing is deleted here).
class Watermarks {
 public:
  explicit Watermarks(const std::string& brokers) {
    rainbow::kafka::ProducerConfig pc;
    pc.brokers = brokers;
    pc.client_id = "cdc-bench-watermarks";
    producer_ = std::make_unique<rainbow::kafka::Producer>(pc);
  }
  int64_t Count(const std::string& topic, int partitions) {
    int64_t sum = 0;
    for (int p = 0; p < partitions; ++p) {
      int64_t low = 0, high = 0;
      if (producer_->raw()->query_watermark_offsets(topic, p, &low, &high, 5000) == RdKafka::ERR_NO_ERROR)
        sum += high;
    }
    return sum;
  }

 private:
  std::unique_ptr<rainbow::kafka::Producer> producer_;
};

struct Workload {
  uint64_t inserts = 0, updates = 0, deletes = 0;
  uint64_t Events(bool tombstones) const { return inserts + updates + deletes * (tombstones ? 2 : 1); }
};

// Row changes in transactions of 1-100 rows: 60% inserts, 30% updates, 10% deletes (of earlier rows).
Workload WriteWorkload(const std::string& dsn, const std::string& table, int changes, int64_t& next_id) {
  rainbow::pg::Connection c(dsn);
  std::mt19937 rng(12345);
  Workload w;
  int done = 0;
  std::vector<int64_t> live;
  while (done < changes) {
    const int n = std::min(changes - done, 1 + static_cast<int>(rng() % 100));
    std::string sql = "BEGIN;";
    int ins = 0;
    for (int i = 0; i < n; ++i) {
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 6 || live.size() < 100) {
        ++ins;
      } else if (kind < 9) {
        const int64_t id = live[rng() % live.size()];
        sql += "UPDATE " + table + " SET v = v + 1, updated = now() WHERE id = " + std::to_string(id) + ";";
        ++w.updates;
      } else {
        const size_t k = rng() % live.size();
        sql += "DELETE FROM " + table + " WHERE id = " + std::to_string(live[k]) + ";";
        live[k] = live.back();
        live.pop_back();
        ++w.deletes;
      }
    }
    if (ins > 0) {
      sql += "INSERT INTO " + table +
             " (id, v, price, pad, updated) SELECT g, 0, (g % 1000) / 7.0, md5(g::text), now() "
             "FROM generate_series(" +
             std::to_string(next_id) + ", " + std::to_string(next_id + ins - 1) + ") g;";
      for (int i = 0; i < ins; ++i) live.push_back(next_id + i);
      next_id += ins;
      w.inserts += static_cast<uint64_t>(ins);
    }
    sql += "COMMIT";
    c.Exec(sql);
    done += n;
  }
  return w;
}

std::string Lsn(rainbow::pg::Connection& c) {
  return std::string(c.Exec("SELECT pg_current_wal_lsn()::text").Text(0, 0));
}

// Parses "host=... port=... dbname=... user=... password=..." into its keywords (for Debezium's config).
std::map<std::string, std::string> ParseDsn(const std::string& dsn) {
  std::map<std::string, std::string> out;
  std::istringstream in(dsn);
  std::string kv;
  while (in >> kv) {
    const auto eq = kv.find('=');
    if (eq != std::string::npos) out[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  return out;
}

std::map<std::string, std::string> BaseEnv() {
  std::map<std::string, std::string> env;
  for (const char* k : {"JAVA_HOME", "LANG"}) {
    if (const char* v = std::getenv(k)) env[k] = v;
  }
  // Topic replication as the stack exports it; 1 and 1 fit the single broker of the local stack.
  for (const char* k : {"KAFKA_TOPIC_REPLICATION_FACTOR", "KAFKA_TOPIC_MIN_INSYNC_REPLICAS"}) {
    const char* v = std::getenv(k);
    env[k] = v != nullptr ? v : "1";
  }
  return env;
}

std::unique_ptr<ChildProcess> StartOurs(const Options& o, const std::string& name, const std::string& slot,
                                        const std::string& prefix) {
  auto env = BaseEnv();
  env.insert({{"PG_DSN", o.dsn},
              {"KAFKA_BROKERS", o.brokers},
              {"CDC_SLOT", slot},
              {"CDC_PUBLICATION", name},
              {"CDC_TABLES", name + ".items"},
              {"CDC_TOPIC_PREFIX", prefix},
              {"CDC_TOPIC_PARTITIONS", std::to_string(o.partitions)},
              {"CDC_SNAPSHOT_MODE", "never"},
              {"CDC_KEY_FORMAT", "json"},  // as Debezium's JsonConverter below (schemas.enable=false)
              {"CDC_VALUE_FORMAT", "json"},
              {"CDC_STATE_SCHEMA", name},
              {"GRPC_ADDR", "127.0.0.1:0"},
              {"HTTP_ADDR", "127.0.0.1:0"},
              {"LOG_LEVEL", "warn"}});
  return std::make_unique<ChildProcess>(o.producer_bin, std::vector<std::string>{}, env);
}

std::unique_ptr<ChildProcess> StartDebezium(const Options& o, const std::string& dir, const std::string& name,
                                            const std::string& slot, const std::string& prefix) {
  std::filesystem::create_directories(dir);
  const auto pg = ParseDsn(o.dsn);
  auto get = [&](const char* k, const char* d) { return pg.count(k) ? pg.at(k) : std::string(d); };
  std::ofstream(dir + "/worker.properties")
      << "bootstrap.servers=" << o.brokers << "\n"
      << "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
      << "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
      << "key.converter.schemas.enable=false\nvalue.converter.schemas.enable=false\n"
      << "offset.storage.file.filename=" << dir << "/offsets.dat\n"
      << "offset.flush.interval.ms=1000\nlisteners=http://127.0.0.1:0\nplugin.path=\n";
  std::ofstream(dir + "/connector.properties")
      << "name=" << slot << "\nconnector.class=io.debezium.connector.postgresql.PostgresConnector\n"
      << "tasks.max=1\nplugin.name=pgoutput\ndatabase.hostname=" << get("host", "127.0.0.1") << "\n"
      << "database.port=" << get("port", "5432") << "\ndatabase.user=" << get("user", "rainbow") << "\n"
      << "database.password=" << get("password", "") << "\ndatabase.dbname=" << get("dbname", "rainbow")
      << "\n"
      << "topic.prefix=" << prefix << "\nslot.name=" << slot << "\npublication.name=" << name << "\n"
      << "publication.autocreate.mode=disabled\ntable.include.list=" << name << ".items\n"
      << "snapshot.mode=no_data\ndecimal.handling.mode=string\n"
      << "topic.creation.default.replication.factor=1\ntopic.creation.default.partitions=" << o.partitions
      << "\n";
  std::ofstream(dir + "/log4j2.properties") << "rootLogger.level=WARN\nrootLogger.appenderRef.out.ref=out\n"
                                               "appender.out.type=Console\nappender.out.name=out\n"
                                               "appender.out.layout.type=PatternLayout\n"
                                               "appender.out.layout.pattern=%d %p %c{1} %m%n\n";
  auto env = BaseEnv();
  return std::make_unique<ChildProcess>(
      "/usr/bin/env",
      std::vector<std::string>{"java", "-Xmx1g", "-Dlog4j2.configurationFile=" + dir + "/log4j2.properties",
                               "-cp", o.debezium_libs + "/*",
                               "org.apache.kafka.connect.cli.ConnectStandalone", dir + "/worker.properties",
                               dir + "/connector.properties"},
      env);
}

// Waits until `count()` reaches `want`; fills drain timings. False on timeout or early exit.
bool WaitCount(const std::function<int64_t()>& count, int64_t want, ChildProcess& proc,
               Clock::time_point started, Result& r, std::chrono::seconds timeout) {
  std::optional<Clock::time_point> first;
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    const int64_t n = count();
    if (n > 0 && !first) first = Clock::now();
    if (n >= want) {
      r.seconds = std::chrono::duration<double>(Clock::now() - *first).count();
      r.total_seconds = Since(started);
      r.events = static_cast<uint64_t>(n);
      r.cpu_seconds = CpuSeconds(proc.pid());
      r.rss_mb = PeakRssMb(proc.pid());
      return true;
    }
    if (proc.Wait(0ms).has_value()) {
      r.note = "exited early: " + proc.Stdout().substr(0, 2000) + proc.Stderr().substr(0, 2000);
      return false;
    }
    std::this_thread::sleep_for(20ms);
  }
  r.note = "timed out at " + std::to_string(count()) + " of " + std::to_string(want);
  return false;
}

void Stop(ChildProcess& p) {
  p.Signal(SIGTERM);
  if (!p.Wait(30s)) {
    p.Signal(SIGKILL);
    p.Wait(10s);
  }
}

// Latency of every record of a topic: Kafka timestamp - source.ts_ms (the commit time).
void Latencies(const std::string& brokers, const std::string& topic, int64_t want, Result& r) {
  rainbow::kafka::Consumer consumer({brokers, topic + ".bench", {topic}, "cdc-bench", "earliest"});
  std::vector<double> lat;
  const auto end = Clock::now() + 60s;
  int64_t seen = 0;
  while (seen < want && Clock::now() < end) {
    auto m = consumer.Poll(500ms);
    if (!m) continue;
    ++seen;
    if (!m->value) continue;
    const auto v = nlohmann::json::parse(*m->value);
    if (!v.contains("source") || !v["source"].contains("ts_ms")) continue;
    lat.push_back(static_cast<double>(m->timestamp_ms - v["source"]["ts_ms"].get<int64_t>()));
  }
  if (lat.empty()) return;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat[std::min(lat.size() - 1, static_cast<size_t>(p * static_cast<double>(lat.size())))];
  };
  r.p50 = pct(0.50);
  r.p99 = pct(0.99);
  double sum = 0;
  for (double x : lat) sum += x;
  r.avg = sum / static_cast<double>(lat.size());
}

// Live writer at a fixed rate of row changes (transactions of 10 rows: 6 inserts, 3 updates, 1 delete).
Workload FixedRate(const std::string& dsn, const std::string& table, int rate, int seconds,
                   int64_t& next_id) {
  rainbow::pg::Connection c(dsn);
  Workload w;
  const int per_txn = 10;
  const auto period = std::chrono::nanoseconds(1'000'000'000LL * per_txn / rate);
  auto next = Clock::now();
  const auto end = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < end) {
    const int64_t id = next_id;
    next_id += 6;
    std::string sql =
        "BEGIN; INSERT INTO " + table +
        " (id, v, price, pad, updated) SELECT g, 0, 1.5, md5(g::text), now() FROM generate_series(" +
        std::to_string(id) + ", " + std::to_string(id + 5) + ") g; UPDATE " + table +
        " SET v = v + 1 WHERE id IN (" + std::to_string(id) + ", " + std::to_string(id + 1) + ", " +
        std::to_string(id + 2) + "); DELETE FROM " + table + " WHERE id = " + std::to_string(id + 5) +
        "; COMMIT";
    c.Exec(sql);
    w.inserts += 6;
    w.updates += 3;
    w.deletes += 1;
    next += period;
    std::this_thread::sleep_until(next);
  }
  return w;
}

void Print(const std::vector<Result>& results, const std::string& title) {
  std::printf("\n== %s ==\n", title.c_str());
  std::printf("%-12s %10s %10s %9s %9s %9s %9s %9s %9s\n", "contender", "events", "events/s", "drain_s",
              "cpu_s", "cpu_%", "rss_MB", "p50_ms", "p99_ms");
  for (const auto& r : results) {
    if (!r.note.empty() && r.events == 0) {
      std::printf("%-12s FAILED: %s\n", r.name.c_str(), r.note.c_str());
      continue;
    }
    auto opt = [](const std::optional<double>& v) {
      return v ? std::to_string(static_cast<int64_t>(*v)) : std::string("-");
    };
    std::printf("%-12s %10llu %10.0f %9.2f %9.2f %9.0f %9.1f %9s %9s\n", r.name.c_str(),
                static_cast<unsigned long long>(r.events),
                r.seconds > 0 ? static_cast<double>(r.events) / r.seconds : 0, r.seconds, r.cpu_seconds,
                r.seconds > 0 ? 100 * r.cpu_seconds / r.total_seconds : 0, r.rss_mb, opt(r.p50).c_str(),
                opt(r.p99).c_str());
  }
}

const Result* Find(const std::vector<Result>& rs, const std::string& name) {
  for (const auto& r : rs) {
    if (r.name == name && r.seconds > 0) return &r;
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  Options o;
  CLI::App app{"cdc-producer vs Debezium vs pg_recvlogical (see bench/cdc-producer/README.md)"};
  app.add_option("--changes", o.changes, "row changes of the throughput run");
  app.add_option("--rate", o.rate, "row changes per second of the latency run");
  app.add_option("--latency-seconds", o.latency_seconds, "duration of the latency run");
  app.add_option("--contenders", o.contenders, "any of ours recvlogical debezium")->delimiter(',');
  o.producer_bin = CDC_PRODUCER_BIN;
  app.add_option("--producer-bin", o.producer_bin,
                 "cdc-producer binary (default: the one built with the bench)");
  app.add_option("--debezium-libs", o.debezium_libs, "Kafka Connect + Debezium jars (fetch-debezium.sh)");
  app.add_option("--monitor-dsn", o.monitor_dsn, "superuser DSN to read pg_stat_replication.sent_lsn");
  app.add_flag("!--no-latency", o.latency, "skip the latency run");
  CLI11_PARSE(app, argc, argv);
  const char* dsn = std::getenv("PG_DSN");
  const char* brokers = std::getenv("KAFKA_BROKERS");
  if (!dsn || !brokers) {
    std::cerr << "needs PG_DSN and KAFKA_BROKERS (eval \"$(scripts/stack env)\")\n";
    return 2;
  }
  o.dsn = dsn;
  o.brokers = brokers;
  auto has = [&](const std::string& c) {
    return std::find(o.contenders.begin(), o.contenders.end(), c) != o.contenders.end();
  };
  if (has("debezium") && o.debezium_libs.empty()) {
    std::cerr
        << "--debezium-libs is required for the debezium contender (bench/cdc-producer/fetch-debezium.sh)\n";
    return 2;
  }

  const std::string name =
      "cdcbench_" + std::to_string(::getpid()) + "_" + std::to_string(std::time(nullptr));
  const std::string table = name + ".items";
  rainbow::pg::Connection admin(o.dsn);
  admin.Exec("CREATE SCHEMA " + name);
  admin.Exec("CREATE TABLE " + table +
             " (id bigint PRIMARY KEY, v int NOT NULL, price numeric(10,2), pad text, updated timestamptz)");
  admin.Exec("CREATE PUBLICATION " + name + " FOR TABLE " + table);
  Watermarks marks(o.brokers);
  std::vector<std::string> slots;
  auto slot_of = [&](const std::string& c, const std::string& phase) { return name + "_" + phase + "_" + c; };
  auto topic_prefix = [&](const std::string& c, const std::string& phase) {
    return name + "_" + phase + "_" + c;
  };
  // Topic names: ours <prefix>.items; Debezium <prefix>.<schema>.items.
  auto topic_of = [&](const std::string& c, const std::string& phase) {
    return c == "debezium" ? topic_prefix(c, phase) + "." + name + ".items"
                           : topic_prefix(c, phase) + ".items";
  };
  for (const auto& c : o.contenders) {
    const std::string slot = slot_of(c, "tp");
    admin.Exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", {slot});
    slots.push_back(slot);
    if (c != "recvlogical") rainbow::kafka::EnsureTopic(o.brokers, topic_of(c, "tp"), o.partitions, 1);
  }

  std::printf("writing %d row changes (transactions of 1-100 rows) into %s ...\n", o.changes, table.c_str());
  int64_t next_id = 1;
  const auto w0 = Clock::now();
  const Workload w = WriteWorkload(o.dsn, table, o.changes, next_id);
  const std::string end_lsn = Lsn(admin);
  std::printf("written in %.1f s: %llu inserts, %llu updates, %llu deletes; WAL end %s\n", Since(w0),
              static_cast<unsigned long long>(w.inserts), static_cast<unsigned long long>(w.updates),
              static_cast<unsigned long long>(w.deletes), end_lsn.c_str());

  std::vector<Result> tp;
  for (const auto& c : o.contenders) {
    Result r;
    r.name = c;
    const auto started = Clock::now();
    std::unique_ptr<ChildProcess> proc;
    bool ok = false;
    if (c == "ours") {
      proc = StartOurs(o, name, slot_of(c, "tp"), topic_prefix(c, "tp"));
      const std::string topic = topic_of(c, "tp");
      ok = WaitCount([&] { return marks.Count(topic, o.partitions); }, static_cast<int64_t>(w.Events(true)),
                     *proc, started, r, 600s);
    } else if (c == "debezium") {
      proc = StartDebezium(o, "/tmp/" + name + "-dbz-tp", name, slot_of(c, "tp"), topic_prefix(c, "tp"));
      const std::string topic = topic_of(c, "tp");
      ok = WaitCount([&] { return marks.Count(topic, o.partitions); }, static_cast<int64_t>(w.Events(true)),
                     *proc, started, r, 900s);
    } else if (c == "recvlogical") {
      // The decode limit: pgoutput to /dev/null; done when the walsender has sent everything.
      const auto pg = ParseDsn(o.dsn);
      auto env = BaseEnv();
      if (pg.count("password")) env["PGPASSWORD"] = pg.at("password");
      proc = std::make_unique<ChildProcess>(
          "/usr/bin/pg_recvlogical",
          std::vector<std::string>{"-d", o.dsn, "--slot", slot_of(c, "tp"), "--start", "-o",
                                   "proto_version=1", "-o", "publication_names=" + name, "-f", "/dev/null",
                                   "-s", "1", "-F", "0"},
          env);
      // sent_lsn is visible to superusers (or pg_read_all_stats) only: watch with --monitor-dsn when
      // given; otherwise fall back to the slot's confirmed_flush_lsn (1 s status granularity).
      rainbow::pg::Connection q(o.monitor_dsn.empty() ? o.dsn : o.monitor_dsn);
      const std::string slot = slot_of(c, "tp");
      // pg_current_wal_lsn() may lie a little past the last record the walsender will ever send, so the
      // drain is over when sent_lsn reached it, or came within 64 kB and then stayed still for 1 s; the
      // time is that of its last move.
      std::string last_sent;
      Clock::time_point last_move = Clock::now();
      const auto deadline = Clock::now() + 600s;
      while (Clock::now() < deadline) {
        auto res = q.Exec(
            "SELECT l::text, l >= $1::pg_lsn, pg_wal_lsn_diff($1::pg_lsn, l) < 65536 FROM ("
            "SELECT coalesce(r.sent_lsn, s.confirmed_flush_lsn) AS l FROM pg_replication_slots s "
            "LEFT JOIN pg_stat_replication r ON s.active_pid = r.pid WHERE s.slot_name = $2 AND s.active) x",
            {end_lsn, slot});
        if (res.rows() == 1) {
          const std::string sent(res.Text(0, 0));
          if (sent != last_sent) {
            last_sent = sent;
            last_move = Clock::now();
          }
          const bool reached = res.Text(0, 1) == "t";
          const bool settled = res.Text(0, 2) == "t" && Since(last_move) > 1.0;
          if (reached || settled) {
            ok = true;
            r.total_seconds =
                std::chrono::duration<double>((reached ? Clock::now() : last_move) - started).count();
            r.cpu_seconds = CpuSeconds(proc->pid());
            r.rss_mb = PeakRssMb(proc->pid());
            break;
          }
        }
        if (proc->Wait(0ms).has_value()) {
          r.note = "pg_recvlogical exited: " + proc->Stderr();
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
      if (!ok && r.note.empty()) r.note = "timed out";
      r.seconds = r.total_seconds;  // it starts streaming at once: the whole run is the drain
      r.events = w.Events(false);
    }
    if (!ok) std::printf("%s: %s\n", c.c_str(), r.note.c_str());
    if (proc) Stop(*proc);
    tp.push_back(r);
    std::printf("%s done\n", c.c_str());
  }

  // Latency run: each Kafka contender live, one at a time, at a fixed rate.
  std::vector<Result> lat;
  if (o.latency) {
    for (const auto& c : o.contenders) {
      if (c == "recvlogical") continue;
      Result r;
      r.name = c;
      const std::string slot = slot_of(c, "lat");
      admin.Exec("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", {slot});
      slots.push_back(slot);
      const std::string topic = topic_of(c, "lat");
      rainbow::kafka::EnsureTopic(o.brokers, topic, o.partitions, 1);
      const auto started = Clock::now();
      auto proc = c == "ours"
                      ? StartOurs(o, name, slot, topic_prefix(c, "lat"))
                      : StartDebezium(o, "/tmp/" + name + "-dbz-lat", name, slot, topic_prefix(c, "lat"));
      // Wait until it streams: a probe change must arrive.
      rainbow::pg::Connection wc(o.dsn);
      const int64_t probe = next_id++;
      wc.Exec("INSERT INTO " + table + " (id, v) VALUES (" + std::to_string(probe) + ", -1)");
      Result warm;
      if (!WaitCount([&] { return marks.Count(topic, o.partitions); }, 1, *proc, started, warm, 300s)) {
        r.note = warm.note;
        lat.push_back(r);
        Stop(*proc);
        continue;
      }
      const double cpu0 = CpuSeconds(proc->pid());
      const auto t0 = Clock::now();
      const Workload lw = FixedRate(o.dsn, table, o.rate, o.latency_seconds, next_id);
      const int64_t want = 1 + static_cast<int64_t>(lw.Events(true));
      WaitCount([&] { return marks.Count(topic, o.partitions); }, want, *proc, started, r, 300s);
      r.seconds = Since(t0);
      r.total_seconds = r.seconds;
      r.cpu_seconds = CpuSeconds(proc->pid()) - cpu0;
      Stop(*proc);
      Latencies(o.brokers, topic, want, r);
      lat.push_back(r);
      std::printf("%s latency run done\n", c.c_str());
    }
  }

  Print(tp, "throughput: " + std::to_string(o.changes) +
                " row changes, transactions of 1-100 rows (drain of retained WAL)");
  if (const Result* ours = Find(tp, "ours")) {
    const double our_rate = static_cast<double>(ours->events) / ours->seconds;
    if (const Result* d = Find(tp, "debezium")) {
      std::printf("ratio events/s ours/debezium: %.2fx (target >= 3x)\n",
                  our_rate / (static_cast<double>(d->events) / d->seconds));
      std::printf("ratio cpu_s debezium/ours: %.2fx, peak RSS debezium/ours: %.2fx\n",
                  d->cpu_seconds / ours->cpu_seconds, d->rss_mb / ours->rss_mb);
    }
    if (const Result* p = Find(tp, "recvlogical")) {
      std::printf("ratio events/s ours/pg_recvlogical: %.2fx (target >= 0.7x)\n",
                  our_rate / (static_cast<double>(p->events) / p->seconds));
    }
  }
  if (o.latency) {
    Print(lat, "latency: " + std::to_string(o.rate) + " row changes/s for " +
                   std::to_string(o.latency_seconds) + " s (Kafka timestamp - commit time)");
    const Result* ours = nullptr;
    const Result* dbz = nullptr;
    for (const auto& r : lat) {
      if (r.name == "ours" && r.p99) ours = &r;
      if (r.name == "debezium" && r.p99) dbz = &r;
    }
    if (ours && dbz)
      std::printf("ratio p99 debezium/ours: %.2fx (target: ours < 35 ms)\n",
                  *dbz->p99 / std::max(1.0, *ours->p99));
  }

  for (const auto& s : slots) {
    try {
      admin.Exec("SELECT pg_drop_replication_slot($1)", {s});
    } catch (const std::exception& e) {
      std::fprintf(stderr, "drop slot %s: %s\n", s.c_str(), e.what());
    }
  }
  admin.Exec("DROP PUBLICATION " + name);
  admin.Exec("DROP SCHEMA " + name + " CASCADE");
  return 0;
}
