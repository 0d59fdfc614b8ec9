// cdc-producer against Debezium itself, on the real PostgreSQL and Kafka of the test stack.
//
// Differential: Debezium's PostgreSQL connector (Kafka Connect standalone, pgoutput, its own slots and
// publication) and cdc-producer (its own slots) read the same WAL: one snapshot, then inserts, updates
// (a key change, TOASTed values left unchanged), deletes, a truncate and a column added mid-stream over
// every column type the order-api schema uses and more. Every record, key and value, must be equal after
// normalizing only what differs by nature (processing times, the snapshot's time and position, which
// belong to each slot, and source.version). Three pairs run side by side, one per wire format:
// json-schemas + decimal precise, json-schemas + double, json + string.
//
// Consumer: the Debezium JDBC sink connector (plugin archive, Kafka Connect standalone, upsert, record-key
// primary keys, deletes on) mirrors cdc-producer's topics of the order-api tables into a replica schema;
// the replica must equal the source table by table, column by column.
//
// Java parts come from Maven Central through the project's fetch scripts (mvn, cached in
// $RAINBOW_TOOLS): bench/cdc-producer/fetch-debezium.sh and tests/debezium/fetch-jdbc-sink.sh.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "common/kafka/admin.hpp"
#include "common/kafka/consumer.hpp"
#include "common/pg/connection.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::cdc {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using rainbow::testing::ChildProcess;
using rainbow::testing::StackEnv;
using Clock = std::chrono::steady_clock;

std::string Identifier(const std::string& prefix) { return rainbow::testing::UniqueIdentifier(prefix); }

// Runs a fetch script and returns the directory it prints (its last line).
std::string RunFetch(const std::string& script) {
  std::array<char, 4096> buf{};
  std::string out;
  FILE* p = ::popen(script.c_str(), "r");
  if (p == nullptr) throw std::runtime_error("cannot run " + script);
  while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
  if (::pclose(p) != 0) throw std::runtime_error(script + " failed (needs mvn and Maven Central)");
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  const auto nl = out.rfind('\n');
  return nl == std::string::npos ? out : out.substr(nl + 1);
}

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
  for (const char* k : {"JAVA_HOME", "LANG", "PATH", "HOME"}) {
    if (const char* v = std::getenv(k)) env[k] = v;
  }
  return env;
}

struct Record {
  std::optional<json> key;
  std::optional<json> value;  // nullopt = tombstone
};

// Reads topics as they fill; records per topic in offset order (single-partition topics).
class TopicReader {
 public:
  TopicReader(const std::string& brokers, std::vector<std::string> topics)
      : consumer_({brokers,
                   Identifier("dbz_diff"),
                   std::move(topics),
                   "cdc-debezium-test",
                   "earliest",
                   false,
                   {{"topic.metadata.refresh.interval.ms", "1000"}}}) {}

  // Polls until nothing new arrived for `quiet`.
  void Drain(std::chrono::milliseconds quiet = 1500ms) {
    auto last = Clock::now();
    while (Clock::now() - last < quiet) {
      auto m = consumer_.Poll(100ms);
      if (!m) continue;
      last = Clock::now();
      Record r;
      if (m->key) r.key = json::parse(*m->key);
      if (m->value && !m->value->empty()) r.value = json::parse(*m->value);
      records_[m->topic].push_back(std::move(r));
    }
  }
  size_t Count(const std::string& topic) const {
    auto it = records_.find(topic);
    return it == records_.end() ? 0 : it->second.size();
  }
  const std::vector<Record>& Of(const std::string& topic) const {
    static const std::vector<Record> kNone;
    auto it = records_.find(topic);
    return it == records_.end() ? kNone : it->second;
  }

 private:
  kafka::Consumer consumer_;
  std::map<std::string, std::vector<Record>> records_;
};

// Paths where two JSON documents differ ("a.b[2].c: x != y").
void Diff(const json& a, const json& b, const std::string& path, std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
      if (!a.contains(k) || !b.contains(k)) {
        out.push_back(path + "." + k + ": only in " + (a.contains(k) ? "debezium" : "ours") + " (" +
                      (a.contains(k) ? a[k] : b[k]).dump() + ")");
      } else {
        Diff(a[k], b[k], path + "." + k, out);
      }
    }
    return;
  }
  if (a.is_array() && b.is_array() && a.size() == b.size()) {
    for (size_t i = 0; i < a.size(); ++i) Diff(a[i], b[i], path + "[" + std::to_string(i) + "]", out);
    return;
  }
  if (a != b) out.push_back(path + ": debezium " + a.dump() + " != ours " + b.dump());
}

// Debezium's ZonedTimestamp pads the fraction to the column's width; the `json` format trims it.
std::string TrimIsoFraction(std::string s) {
  if (s.size() < 21 || s.back() != 'Z' || s[10] != 'T') return s;
  const auto dot = s.find('.');
  if (dot == std::string::npos) return s;
  std::string frac = s.substr(dot + 1, s.size() - dot - 2);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  return s.substr(0, dot) + (frac.empty() ? "" : "." + frac) + "Z";
}

struct Pair {
  std::string tag;           // s, d, j
  std::string key_format;    // CDC_KEY_FORMAT
  std::string value_format;  // CDC_VALUE_FORMAT
  std::string decimal;       // CDC_DECIMAL_HANDLING_MODE = Debezium's decimal.handling.mode
  bool schemas() const { return value_format == "json-schemas"; }
};

class DebeziumTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dsn_ = StackEnv("PG_DSN");
    brokers_ = StackEnv("KAFKA_BROKERS");
    name_ = Identifier("dbz");
    dir_ = "/tmp/" + name_;
    std::filesystem::create_directories(dir_);
    Sql("CREATE SCHEMA " + name_);
  }

  void TearDown() override {
    for (auto& p : processes_) p.reset();  // SIGKILL if still running
    for (int i = 0; i < 100; ++i) {
      try {
        pg::Connection c(dsn_);
        auto r = c.Exec("SELECT slot_name, active FROM pg_replication_slots WHERE slot_name LIKE $1",
                        {name_ + "%"});
        if (r.rows() == 0) break;
        for (int k = 0; k < r.rows(); ++k) {
          if (r.Text(k, 1) == "f") c.Exec("SELECT pg_drop_replication_slot($1)", {std::string(r.Text(k, 0))});
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(200ms);
    }
    try {
      pg::Connection c(dsn_);
      auto pubs = c.Exec("SELECT pubname FROM pg_publication WHERE pubname LIKE $1", {name_ + "%"});
      for (int k = 0; k < pubs.rows(); ++k) c.Exec("DROP PUBLICATION " + std::string(pubs.Text(k, 0)));
      c.Exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
      c.Exec("DROP SCHEMA IF EXISTS " + name_ + "_replica CASCADE");
      c.Exec("DELETE FROM rainbow_cdc.state WHERE slot_name LIKE $1", {name_ + "%"});
    } catch (const std::exception&) {
    }
    if (!HasFailure()) std::filesystem::remove_all(dir_);
  }

  void Sql(const std::string& sql) {
    pg::Connection c(dsn_);
    c.Exec(sql);
  }

  ChildProcess& StartOurs(const std::string& slot, const std::string& prefix,
                          std::map<std::string, std::string> extra) {
    auto env = BaseEnv();
    env.merge(rainbow::testing::KafkaTopicEnv());
    env.insert({{"PG_DSN", dsn_},
                {"KAFKA_BROKERS", brokers_},
                {"CDC_SCHEMAS", name_},
                {"CDC_SLOT", slot},
                {"CDC_PUBLICATION", slot},
                {"CDC_TOPIC_PREFIX", prefix},
                {"CDC_TOPIC_PARTITIONS", "1"},
                {"CDC_STATUS_INTERVAL", "200ms"},
                // Debezium's slots see every logical message, ours included: a heartbeat would move
                // source.sequence[0] of the next event in one reader and not in the other.
                {"CDC_HEARTBEAT_INTERVAL", "0"},
                {"GRPC_ADDR", "127.0.0.1:0"},
                {"HTTP_ADDR", "127.0.0.1:0"},
                {"LOG_LEVEL", "warn"}});
    for (auto& [k, v] : extra) env[k] = v;
    processes_.push_back(std::make_unique<ChildProcess>(CDC_PRODUCER_BIN, std::vector<std::string>{}, env));
    return *processes_.back();
  }

  // Kafka Connect standalone with the given connectors (name -> properties), the Debezium PostgreSQL
  // connector on its classpath and `plugin_path` for plugins (the JDBC sink).
  ChildProcess& StartConnect(const std::string& tag, const std::map<std::string, std::string>& connectors,
                             const std::string& plugin_path) {
    const std::string libs = RunFetch(DEBEZIUM_FETCH_SCRIPT);
    const std::string dir = dir_ + "/connect-" + tag;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/worker.properties")
        << "bootstrap.servers=" << brokers_ << "\n"
        << "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
        << "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
        << "offset.storage.file.filename=" << dir << "/offsets.dat\n"
        << "offset.flush.interval.ms=1000\n"
        << "listeners=http://127.0.0.1:" << rainbow::testing::FreePort() << "\n"
        << "plugin.path=" << (plugin_path.empty() ? dir + "/no-plugins" : plugin_path) << "\n";
    std::filesystem::create_directories(dir + "/no-plugins");  // an empty plugin.path scans the cwd
    std::ofstream(dir + "/log4j2.properties")
        << "rootLogger.level=WARN\nrootLogger.appenderRef.out.ref=out\n"
           "appender.out.type=Console\nappender.out.name=out\n"
           "appender.out.layout.type=PatternLayout\n"
           "appender.out.layout.pattern=%d %p %c{1} %m%n\n"
           "logger.toast.name=io.debezium.connector.postgresql.TypeRegistry\n"
           "logger.toast.level=ERROR\n";
    std::vector<std::string> args{"java",
                                  "-Xmx512m",
                                  "-XX:TieredStopAtLevel=1",
                                  "-Dlog4j2.configurationFile=" + dir + "/log4j2.properties",
                                  "-cp",
                                  libs + "/*",
                                  "org.apache.kafka.connect.cli.ConnectStandalone",
                                  dir + "/worker.properties"};
    for (const auto& [name, props] : connectors) {
      std::ofstream(dir + "/" + name + ".properties") << "name=" << name << "\n" << props;
      args.push_back(dir + "/" + name + ".properties");
    }
    processes_.push_back(std::make_unique<ChildProcess>("/usr/bin/env", args, BaseEnv()));
    return *processes_.back();
  }

  std::string DebeziumSource(const Pair& p, const std::string& publication) {
    const auto pg = ParseDsn(dsn_);
    auto get = [&](const char* k, const char* d) { return pg.count(k) ? pg.at(k) : std::string(d); };
    const std::string schemas = p.schemas() ? "true" : "false";
    std::ostringstream o;
    o << "connector.class=io.debezium.connector.postgresql.PostgresConnector\ntasks.max=1\n"
      << "plugin.name=pgoutput\n"
      << "database.hostname=" << get("host", "127.0.0.1") << "\ndatabase.port=" << get("port", "5432")
      << "\ndatabase.user=" << get("user", "rainbow") << "\ndatabase.password=" << get("password", "")
      << "\ndatabase.dbname=" << get("dbname", "rainbow")
      << "\n"
      // topic.prefix = the first segment of CDC_TOPIC_PREFIX (source.name and the schema names).
      << "topic.prefix=" << name_ << "_" << p.tag << "\n"
      << "slot.name=" << name_ << "_dbz_" << p.tag << "\npublication.name=" << publication << "\n"
      << "publication.autocreate.mode=disabled\nschema.include.list=" << name_ << "\n"
      << "snapshot.mode=initial\ndecimal.handling.mode=" << p.decimal << "\n"
      << "skipped.operations=none\npoll.interval.ms=100\n"
      << "key.converter=org.apache.kafka.connect.json.JsonConverter\nkey.converter.schemas.enable="
      << (p.key_format == "json-schemas" ? "true" : "false") << "\n"
      << "value.converter=org.apache.kafka.connect.json.JsonConverter\nvalue.converter.schemas.enable="
      << schemas << "\n"
      << "topic.creation.default.replication.factor=1\ntopic.creation.default.partitions=1\n";
    return o.str();
  }

  void MirrorWithJdbcSink(const std::string& decimal);

  std::string dsn_, brokers_, name_, dir_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

// What differs by nature between two readers of the same WAL: processing times, and for snapshot
// records the snapshot's own time and position (each reader takes its own snapshot from its own slot).
// The `json` format keeps its historical forms where they differ from Debezium's schemaless output
// (README "Wire formats"): those, and only those, are normalized too.
json Normalize(json v, bool legacy_json) {
  json* p = v.contains("payload") ? &v["payload"] : &v;
  if (p->is_null()) return v;
  for (const char* k : {"ts_ms", "ts_us", "ts_ns"}) p->erase(k);
  auto& src = (*p)["source"];
  src.erase("version");
  if ((*p)["op"] == "r") {
    for (const char* k : {"ts_ms", "ts_us", "ts_ns", "lsn", "sequence", "txId"}) src.erase(k);
  }
  if (legacy_json) {
    auto& snap = src["snapshot"];
    if (snap == "first_in_data_collection" || snap == "last_in_data_collection") snap = "true";
    for (const char* image : {"before", "after"}) {
      auto& row = (*p)[image];
      if (!row.is_object()) continue;
      for (auto it = row.begin(); it != row.end(); ++it) {
        if (it.value().is_string()) it.value() = TrimIsoFraction(it.value().get<std::string>());
      }
    }
  }
  return v;
}

void ExpectSameStreams(const std::string& what, const std::vector<Record>& dbz,
                       const std::vector<Record>& ours, bool legacy_json,
                       const std::set<std::string>& nullable_defaults, int& compared) {
  ASSERT_EQ(dbz.size(), ours.size()) << what << ": record counts differ";
  for (size_t i = 0; i < dbz.size(); ++i) {
    std::vector<std::string> diffs;
    const json dk = dbz[i].key.value_or(json());
    const json ok = ours[i].key.value_or(json());
    Diff(dk, ok, "key", diffs);
    if (dbz[i].value.has_value() != ours[i].value.has_value()) {
      diffs.push_back(std::string("value: ") + (dbz[i].value ? "debezium has a value, ours a tombstone"
                                                             : "debezium has a tombstone, ours a value"));
    } else if (dbz[i].value) {
      json dv = Normalize(*dbz[i].value, legacy_json);
      json ov = Normalize(*ours[i].value, legacy_json);
      if (legacy_json && dv["op"] == "d" && dv["before"].is_object() && ov["before"].is_object()) {
        // A DEFAULT-identity delete's before-image: Debezium writes a default or its converter's zero in
        // NOT NULL columns outside the key, the json format the null it received (README).
        for (auto it = ov["before"].begin(); it != ov["before"].end(); ++it) {
          if (it.value().is_null() && dv["before"].contains(it.key())) it.value() = dv["before"][it.key()];
        }
      }
      if (legacy_json && dv.contains("before")) {
        // JsonConverter writes a nullable column's default in place of a null, even without schemas;
        // the json format writes the null (README "Wire formats").
        for (const char* image : {"before", "after"}) {
          if (!dv[image].is_object() || !ov[image].is_object()) continue;
          for (const auto& c : nullable_defaults) {
            if (ov[image].contains(c) && ov[image][c].is_null() && dv[image].contains(c))
              ov[image][c] = dv[image][c];
          }
        }
      }
      if (legacy_json) {
        // money with decimal.handling.mode=string: Debezium's streamed value goes through a Java double
        // ("-1234.5"), its snapshot value does not ("-1234.50"); ours is always the plain decimal.
        for (const char* image : {"before", "after"}) {
          if (!dv[image].is_object() || !ov[image].is_object()) continue;
          auto& d = dv[image]["c_money"];
          auto& o = ov[image]["c_money"];
          if (d.is_string() && o.is_string() &&
              std::stod(d.get<std::string>()) == std::stod(o.get<std::string>()))
            d = o;
        }
      }
      Diff(dv, ov, "value", diffs);
    }
    ++compared;
    if (!diffs.empty()) {
      std::string all;
      for (const auto& d : diffs) all += "\n  " + d;
      ADD_FAILURE() << what << " record " << i << " differs:" << all
                    << "\n debezium: " << (dbz[i].value ? dbz[i].value->dump().substr(0, 3000) : "null")
                    << "\n ours:     " << (ours[i].value ? ours[i].value->dump().substr(0, 3000) : "null");
    }
  }
}

TEST_F(DebeziumTest, SameEventsAsDebeziumInEveryWireFormat) {
  const std::string s = name_ + ".";
  Sql("CREATE TYPE " + s + "mood AS ENUM ('sad', 'ok', 'happy')");
  // Every type of the order-api schema (bigserial, integer, text, boolean, numeric(p,s), timestamptz with
  // and without defaults) and more.
  Sql("CREATE TABLE " + s +
      "all_types (id bigserial PRIMARY KEY, c_int2 smallint, c_int4 integer NOT NULL DEFAULT 0, "
      "c_int8 bigint, c_int4n integer DEFAULT 7, c_bool boolean NOT NULL DEFAULT false, c_real real, "
      "c_double double precision, c_num numeric(12,2), c_num_def numeric(12,2) NOT NULL DEFAULT 0, "
      "c_num_free numeric, c_num_small numeric(3,2), c_money money, c_text text, c_varchar varchar(20), "
      "c_char char(3), c_status text NOT NULL DEFAULT 'CREATED', c_date date, c_ts timestamp, "
      "c_ts3 timestamp(3), c_tstz timestamptz NOT NULL DEFAULT now(), c_tstz_null timestamptz, c_time time, "
      "c_time3 time(3), c_timetz timetz, c_interval interval, c_bytea bytea, c_uuid uuid, c_json json, "
      "c_jsonb jsonb, c_xml xml, c_inet inet, c_mood " +
      s + "mood, c_oid oid)");
  Sql("CREATE TABLE " + s + "kv (k int, j int, v text, PRIMARY KEY (k, j))");
  Sql("CREATE TABLE " + s + "docs (id int PRIMARY KEY, body text, n int)");  // FULL, TOASTed body
  Sql("CREATE TABLE " + s +
      "docs_default (id int PRIMARY KEY, body text, n int, tag text NOT NULL DEFAULT 'x', "
      "num numeric(6,2) NOT NULL, at timestamptz NOT NULL DEFAULT now())");  // DEFAULT identity
  Sql("CREATE TABLE " + s + "nokey (a int, b text)");                        // no key: null Kafka key
  for (const char* t : {"all_types", "kv", "docs", "nokey"})
    Sql("ALTER TABLE " + s + t + " REPLICA IDENTITY FULL");
  const std::set<std::string> nullable_defaults{"c_int4n", "c_added"};

  const std::string row_values =
      "(-3, 9000000000, 1.5, 2.25, 12.50, 3.14159, -1.23, -1234.5, 'hello \"q\" ünï', 'vc', 'ab', "
      "'2024-02-29', '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123', '2024-01-02 03:04:05.5+02', "
      "'08:09:10.5', '08:09:10.123', '08:00:00.25+02', '1 year 2 mons 3 days 04:05:06.7', '\\xdeadbeef', "
      "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": [1, 2]}', '{\"b\": 2}', '<x>1</x>', '10.0.0.1/8', "
      "'ok', 42)";
  const std::string cols =
      "(c_int2, c_int8, c_real, c_double, c_num, c_num_free, c_num_small, c_money, c_text, c_varchar, "
      "c_char, "
      "c_date, c_ts, c_ts3, c_tstz, c_time, c_time3, c_timetz, c_interval, c_bytea, c_uuid, c_json, c_jsonb, "
      "c_xml, c_inet, c_mood, c_oid)";
  const std::string big = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 4000) i)";
  // The snapshot's rows.
  Sql("INSERT INTO " + s + "all_types " + cols + " VALUES " + row_values);
  Sql("INSERT INTO " + s + "all_types (c_tstz) VALUES ('2024-01-02 03:04:05+00')");
  Sql("INSERT INTO " + s + "kv VALUES (1, 1, 'one'), (2, 1, 'two')");
  Sql("INSERT INTO " + s + "docs VALUES (1, " + big + ", 0)");
  Sql("INSERT INTO " + s + "docs_default VALUES (1, " + big + ", 0, 'y', 1.5)");
  Sql("INSERT INTO " + s + "nokey VALUES (1, 'x')");
  const size_t snapshot_rows = 7;
  const std::string publication = name_ + "_dbz";
  Sql("CREATE PUBLICATION " + publication + " FOR TABLE " + s + "all_types, " + s + "kv, " + s + "docs, " +
      s + "docs_default, " + s + "nokey");

  const std::vector<Pair> pairs{{"s", "json-schemas", "json-schemas", "precise"},
                                {"d", "json-schemas", "json-schemas", "double"},
                                {"j", "json", "json", "string"}};
  const std::vector<std::string> tables{"all_types", "kv", "docs", "docs_default", "nokey"};
  auto dbz_topic = [&](const Pair& p, const std::string& t) {
    return name_ + "_" + p.tag + "." + name_ + "." + t;
  };
  auto our_topic = [&](const Pair& p, const std::string& t) { return name_ + "_" + p.tag + ".public." + t; };
  std::vector<std::string> topics;
  for (const auto& p : pairs) {
    for (const auto& t : tables) {
      topics.push_back(dbz_topic(p, t));
      topics.push_back(our_topic(p, t));
    }
  }

  // Created up front: a topic appearing later would rebalance the test's consumer group, which then
  // rereads from the start (nothing is committed).
  for (const auto& t : topics) kafka::EnsureTopic(brokers_, t, 1, 1);
  const auto started = Clock::now();
  std::map<std::string, std::string> connectors;
  for (const auto& p : pairs) connectors[name_ + "_" + p.tag] = DebeziumSource(p, publication);
  auto& connect = StartConnect("sources", connectors, "");
  TopicReader reader(brokers_, topics);
  auto total = [&](auto topic_of, const Pair& p) {
    size_t n = 0;
    for (const auto& t : tables) n += reader.Count(topic_of(p, t));
    return n;
  };
  // Debezium's snapshots (its slots exist from then on), then ours, before any change.
  auto wait_snapshots = [&](auto topic_of, const char* who) {
    const auto end = Clock::now() + 180s;
    for (;;) {
      reader.Drain(300ms);
      bool all = true;
      for (const auto& p : pairs) all = all && total(topic_of, p) >= snapshot_rows;
      if (all) return true;
      if (Clock::now() > end || connect.Wait(0ms).has_value()) {
        ADD_FAILURE() << who << " snapshot incomplete; Kafka Connect output:\n"
                      << connect.Stdout().substr(0, 20000) << connect.Stderr().substr(0, 20000);
        return false;
      }
    }
  };
  ASSERT_TRUE(wait_snapshots(dbz_topic, "Debezium"));
  const double debezium_up_s = std::chrono::duration<double>(Clock::now() - started).count();
  for (const auto& p : pairs) {
    StartOurs(name_ + "_ours_" + p.tag, name_ + "_" + p.tag + ".public",
              {{"CDC_KEY_FORMAT", p.key_format},
               {"CDC_VALUE_FORMAT", p.value_format},
               {"CDC_DECIMAL_HANDLING_MODE", p.decimal}});
  }
  ASSERT_TRUE(wait_snapshots(our_topic, "cdc-producer"));

  // The stream.
  Sql("INSERT INTO " + s + "all_types " + cols + " VALUES " + row_values);
  Sql("INSERT INTO " + s +
      "all_types (c_int4n, c_num_free, c_real, c_double, c_text) VALUES "
      "(NULL, -0.000123, -0.25, 1e-7, '')");
  Sql("UPDATE " + s + "all_types SET c_text = 'updated', c_num = 99.99, c_bool = true WHERE id = 1");
  Sql("UPDATE " + s + "kv SET k = 3 WHERE k = 1");    // key change: delete + tombstone + create
  Sql("UPDATE " + s + "docs SET n = n + 1");          // TOASTed body unchanged (FULL: from the old image)
  Sql("UPDATE " + s + "docs_default SET n = n + 1");  // unchanged TOAST without an old image: placeholder
  Sql("UPDATE " + s + "docs SET body = body || 'tail'");
  Sql("DELETE FROM " + s + "kv WHERE k = 2");
  Sql("DELETE FROM " + s + "docs_default WHERE id = 1");
  Sql("INSERT INTO " + s + "nokey VALUES (2, 'y')");
  Sql("UPDATE " + s + "nokey SET b = 'z' WHERE a = 2");
  Sql("DELETE FROM " + s + "nokey WHERE a = 1");
  Sql("BEGIN; INSERT INTO " + s + "kv VALUES (10, 1, 'a'), (10, 2, 'b'); UPDATE " + s +
      "kv SET v = 'c' WHERE k = 10 AND j = 2; DELETE FROM " + s + "all_types WHERE id = 2; COMMIT");
  Sql("TRUNCATE " + s + "kv");
  Sql("ALTER TABLE " + s + "all_types ADD COLUMN c_added numeric(5,1) DEFAULT 2.5");
  Sql("INSERT INTO " + s + "all_types (c_added, c_text) VALUES (7.5, 'after alter')");
  Sql("INSERT INTO " + s + "all_types (c_added, c_text) VALUES (NULL, 'null added')");
  Sql("UPDATE " + s + "all_types SET c_added = 1.5 WHERE id = 1");
  Sql("INSERT INTO " + s + "kv VALUES (20, 1, 'after truncate')");

  // Until Debezium has as many records as ours on every topic, and nothing moves any more.
  const auto end = Clock::now() + 180s;
  for (;;) {
    reader.Drain(2000ms);
    bool equal = true;
    for (const auto& p : pairs) {
      for (const auto& t : tables)
        equal = equal && reader.Count(dbz_topic(p, t)) == reader.Count(our_topic(p, t));
    }
    if (equal) break;
    if (Clock::now() > end || connect.Wait(0ms).has_value()) break;  // compared below, failing with details
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - started).count();
  for (const auto& t : topics) std::cout << "  " << t << ": " << reader.Count(t) << " records\n";

  int compared = 0;
  for (const auto& p : pairs) {
    for (const auto& t : tables) {
      ExpectSameStreams("pair " + p.tag + " (" + p.value_format + ", decimal " + p.decimal + ") table " + t,
                        reader.Of(dbz_topic(p, t)), reader.Of(our_topic(p, t)), !p.schemas(),
                        nullable_defaults, compared);
    }
  }
  EXPECT_EQ(compared, 3 * 34);
  if (HasFailure()) {
    std::cerr << "Kafka Connect output:\n"
              << connect.Stdout().substr(0, 20000) << connect.Stderr().substr(0, 20000);
  }
  std::cout << "compared " << compared << " records; Debezium up with its snapshots after " << debezium_up_s
            << " s, all done after " << total_s << " s\n";
}

// The migrations of order-api (001 + 002 + 003), with the schema renamed to the test's own.
std::string OrderApiSchemaSql(const std::string& schema) {
  std::string all;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(ORDER_API_MIGRATIONS_DIR)) {
    if (e.path().extension() == ".sql") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    all += ss.str() + "\n";
  }
  auto word = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
  std::string out;
  for (size_t i = 0; i < all.size();) {
    if ((i == 0 || !word(all[i - 1])) && all.compare(i, 7, "rainbow") == 0 &&
        (i + 7 == all.size() || !word(all[i + 7]))) {
      out += schema;
      i += 7;
    } else {
      out += all[i++];
    }
  }
  return out;
}

// decimal: CDC_DECIMAL_HANDLING_MODE ("" = the service's default).
void DebeziumTest::MirrorWithJdbcSink(const std::string& decimal) {
  const std::string s = name_ + ".";
  Sql(OrderApiSchemaSql(name_));
  const std::string replica = name_ + "_replica";
  Sql("CREATE SCHEMA " + replica);
  // Rows before the start (snapshot) ...
  auto seed = [&](int from, int to) {
    const std::string range =
        " FROM generate_series(" + std::to_string(from) + ", " + std::to_string(to) + ") i";
    Sql("INSERT INTO " + s +
        "customers (id, first_name, last_name, email) SELECT i, 'F' || i, 'O''L' || i, "
        "'c' || i || '@x.org'" +
        range);
    Sql("INSERT INTO " + s + "payments (id, name, type) SELECT i, 'pay ' || i, 'card'" + range);
    Sql("INSERT INTO " + s +
        "sellers (id, name, link, is_best_store) SELECT i, 'seller ' || i, "
        "CASE WHEN i % 2 = 0 THEN 'https://s/' || i END, i % 3 = 0" +
        range);
    Sql("INSERT INTO " + s + "categories (id, name, description) SELECT i, 'cat ' || i, NULL" + range);
    Sql("INSERT INTO " + s + "brands (id, name) SELECT i, 'brand ' || i" + range);
    Sql("INSERT INTO " + s +
        "promotions (id, name, type, price_treatment, coupon_type, is_global, promo_begin, "
        "promo_end) SELECT i, 'promo ' || i, 'seasonal', 10.5 + i % 50, CASE WHEN i % 2 = 0 THEN "
        "'Percentage' "
        "ELSE 'Fixed Amount' END, i % 2 = 1, '2024-01-01 00:00:00.123456+00', '2024-12-31 23:59:59+00'" +
        range);
    Sql("INSERT INTO " + s +
        "products (id, name, price, original_price, rating_average, review_count, category_id, "
        "seller_id, brand_id, promotion_id) SELECT i, 'product ' || i, 19.99 + i, 25.00 + i, 4.25, i, i, i, "
        "i, "
        "CASE WHEN i % 2 = 0 THEN i END" +
        range);
    Sql("INSERT INTO " + s + "inventories (product_id, quantity) SELECT i, 100 + i" + range);
    Sql("INSERT INTO " + s + "orders (id, customer_id, payment_id) SELECT i, i, i" + range);
    Sql("INSERT INTO " + s +
        "orderdetails (order_id, line_no, product_id, quantity, price, promotion_id, "
        "discount_unit_price) SELECT i, l, i, l, 19.99 + i, CASE WHEN i % 2 = 0 THEN i END, 1.25" +
        range + ", generate_series(1, 3) l");
    Sql("INSERT INTO " + s +
        "idempotency_keys (key, request_fingerprint, order_id) SELECT 'k' || i, "
        "md5(i::text), i" +
        range);
    Sql("INSERT INTO " + s +
        "product_catalog (ean, style_number, brand_code, price_eur, b2b_readiness_date, "
        "fabric_composition) SELECT 'ean' || i, 'st' || i, i, 9.95 * i, '2025-03-04 05:06:07+01', "
        "'{\"cotton\": 100}'" +
        range);
  };
  seed(1, 20);

  const auto started = Clock::now();
  // cdc-producer with its defaults (json-schemas keys and values), as a user runs it.
  std::map<std::string, std::string> env;
  if (!decimal.empty()) env["CDC_DECIMAL_HANDLING_MODE"] = decimal;
  auto& ours = StartOurs(name_ + "_ours", name_ + ".public", env);
  const std::string plugins = RunFetch(JDBC_SINK_FETCH_SCRIPT);
  const auto pg = ParseDsn(dsn_);
  auto get = [&](const char* k, const char* d) { return pg.count(k) ? pg.at(k) : std::string(d); };
  std::ostringstream sink;
  sink << "connector.class=io.debezium.connector.jdbc.JdbcSinkConnector\ntasks.max=1\n"
       << "topics.regex=" << name_ << "\\\\.public\\\\..*\n"
       << "connection.url=jdbc:postgresql://" << get("host", "127.0.0.1") << ":" << get("port", "5432") << "/"
       << get("dbname", "rainbow") << "\n"
       << "connection.username=" << get("user", "rainbow") << "\nconnection.password=" << get("password", "")
       << "\n"
       << "insert.mode=upsert\nprimary.key.mode=record_key\ndelete.enabled=true\nschema.evolution=basic\n"
       << "collection.name.format=" << replica << ".${source.table}\n"
       << "consumer.override.auto.offset.reset=earliest\n";
  auto& connect = StartConnect("sink", {{name_ + "_sink", sink.str()}}, plugins);

  // ... and changes while both run: updates (prices, statuses, a NULL set and cleared), deletes, inserts.
  std::this_thread::sleep_for(2s);
  Sql("UPDATE " + s +
      "products SET price = price * 2, original_price = NULL, updated_at = now() WHERE id % 3 = 0");
  Sql("UPDATE " + s + "orders SET status = 'PAID', deleted_at = '2025-01-01 00:00:00+00' WHERE id % 4 = 0");
  Sql("UPDATE " + s + "sellers SET link = 'https://new/' || id WHERE link IS NULL");
  Sql("UPDATE " + s + "inventories SET quantity = quantity - 1");
  Sql("DELETE FROM " + s + "orderdetails WHERE line_no = 3 AND order_id % 2 = 0");
  Sql("DELETE FROM " + s + "idempotency_keys WHERE order_id > 15");
  Sql("UPDATE " + s + "orderdetails SET quantity = quantity + 10 WHERE line_no = 1");
  Sql("UPDATE " + s + "product_catalog SET price_eur = NULL, color = 'red' WHERE brand_code < 5");
  seed(21, 30);
  Sql("DELETE FROM " + s + "inventories WHERE product_id = 30");

  const std::vector<std::string> tables{"customers", "payments",     "sellers",          "categories",
                                        "brands",    "promotions",   "products",         "inventories",
                                        "orders",    "orderdetails", "idempotency_keys", "product_catalog"};
  pg::Connection c(dsn_);
  c.Exec("SET TimeZone = 'UTC'");
  // Table by table, column by column, rows ordered by the primary key, values as text.
  auto compare = [&](std::vector<std::string>& differences) {
    differences.clear();
    for (const auto& t : tables) {
      auto pk = c.Exec(
          "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND "
          "a.attnum = ANY(i.indkey) WHERE i.indrelid = $1::regclass AND i.indisprimary "
          "ORDER BY a.attnum",
          {s + t});
      std::string order;
      for (int r = 0; r < pk.rows(); ++r) order += (r ? ", " : "") + std::string(pk.Text(r, 0));
      auto cols = c.Exec(
          "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND "
          "NOT attisdropped ORDER BY attnum",
          {s + t});
      if (c.Exec("SELECT to_regclass($1) IS NULL", {replica + "." + t}).Text(0, 0) == "t") {
        differences.push_back(t + ": no replica table yet");
        continue;
      }
      for (int k = 0; k < cols.rows(); ++k) {
        const std::string col(cols.Text(k, 0));
        const std::string q = "SELECT COALESCE(string_agg(COALESCE(\"" + col +
                              "\"::text, '<null>'), '|' ORDER BY " + order + "), '') FROM ";
        try {
          const std::string a(c.Exec(q + s + t).Text(0, 0));
          const std::string b(c.Exec(q + replica + "." + t).Text(0, 0));
          if (a != b) {
            differences.push_back(t + "." + col + ": source [" + a.substr(0, 300) + "] replica [" +
                                  b.substr(0, 300) + "]");
          }
        } catch (const std::exception& e) {
          differences.push_back(t + "." + col + ": " + e.what());
        }
      }
    }
  };
  std::vector<std::string> differences;
  const auto end = Clock::now() + 240s;
  for (;;) {
    compare(differences);
    if (differences.empty() || Clock::now() > end || connect.Wait(0ms).has_value() ||
        ours.Wait(0ms).has_value())
      break;
    std::this_thread::sleep_for(2s);
  }
  std::string all;
  for (const auto& d : differences) all += "\n  " + d;
  EXPECT_TRUE(differences.empty()) << "replica differs from the source:" << all << "\nKafka Connect output:\n"
                                   << connect.Stdout().substr(0, 30000) << connect.Stderr().substr(0, 30000);
  // The sink typed the replica's columns from the Connect schemas.
  auto type = c.Exec(
      "SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND "
      "table_name = 'products' AND column_name = 'price'",
      {replica});
  if (type.rows() == 1) {
    EXPECT_EQ(type.Text(0, 0), decimal == "precise" ? "numeric" : "text");
  }
  std::cout << "replica equal to the source (" << tables.size() << " tables, decimal "
            << (decimal.empty() ? "default" : decimal) << ") after "
            << std::chrono::duration<double>(Clock::now() - started).count() << " s\n";
}

// The service's defaults: numeric as strings, so the sink creates text columns for them.
TEST_F(DebeziumTest, JdbcSinkMirrorsTheOrderTablesExactly) { MirrorWithJdbcSink(""); }

// Debezium's own default decimal mode: Connect Decimals, numeric columns in the replica.
TEST_F(DebeziumTest, JdbcSinkMirrorsTheOrderTablesWithPreciseDecimals) { MirrorWithJdbcSink("precise"); }

}  // namespace
}  // namespace rainbow::cdc
