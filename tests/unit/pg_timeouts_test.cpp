// pg::Timeouts: what the PG_* vars give, and the libpq parameters a DSN ends up with.
#include <gtest/gtest.h>

#include <map>

#include "common/pg/connection.hpp"
#include "common/pg/timeouts.hpp"

namespace rainbow::pg {
namespace {

using namespace std::chrono_literals;

config::Env EnvOf(std::map<std::string, std::string> vars) {
  return config::Env([vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

TEST(PgTimeouts, DefaultsAndEnv) {
  auto none = EnvOf({});
  const Timeouts d = TimeoutsFromEnv(none);
  EXPECT_EQ(d.connect, 5s);
  EXPECT_EQ(d.statement, 30s);
  EXPECT_EQ(d.ResponseTimeout(), 35s);
  auto set = EnvOf({{"PG_CONNECT_TIMEOUT", "3s"},
                    {"PG_STATEMENT_TIMEOUT", "0"},
                    {"PG_KEEPALIVES_IDLE", "7s"},
                    {"PG_KEEPALIVES_INTERVAL", "2s"},
                    {"PG_KEEPALIVES_COUNT", "4"},
                    {"PG_TCP_USER_TIMEOUT", "1500ms"}});
  const Timeouts t = TimeoutsFromEnv(set);
  EXPECT_EQ(t.connect, 3s);
  EXPECT_EQ(t.statement, 0ms);
  EXPECT_EQ(t.ResponseTimeout(), std::nullopt) << "no statement timeout: the client waits as long";
  EXPECT_EQ(t.keepalives_idle, 7s);
  EXPECT_EQ(t.keepalives_interval, 2s);
  EXPECT_EQ(t.keepalives_count, 4);
  EXPECT_EQ(t.tcp_user_timeout, 1500ms);
}

TEST(PgTimeouts, BadValuesNameTheVar) {
  for (const auto& [name, value] : std::map<std::string, std::string>{{"PG_CONNECT_TIMEOUT", "0"},
                                                                      {"PG_CONNECT_TIMEOUT", "500ms"},
                                                                      {"PG_STATEMENT_TIMEOUT", "soon"},
                                                                      {"PG_KEEPALIVES_IDLE", "0s"},
                                                                      {"PG_KEEPALIVES_COUNT", "0"},
                                                                      {"PG_TCP_USER_TIMEOUT", "-1"}}) {
    auto env = EnvOf({{name, value}});
    try {
      TimeoutsFromEnv(env);
      ADD_FAILURE() << name << "=" << value << " was accepted";
    } catch (const config::ConfigError& e) {
      EXPECT_EQ(e.var(), name);
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
}

TEST(PgTimeouts, AddedToEitherDsnFormUnlessNamed) {
  Timeouts t;
  t.connect = 2500ms;  // libpq takes whole seconds: rounded up
  t.statement = 4s;
  t.tcp_user_timeout = 9s;
  for (const std::string dsn : {"host=db dbname=x", "postgresql://u@db/x"}) {
    const ConnectParams p(dsn, t);
    EXPECT_EQ(p.Get("host"), "db") << dsn;
    EXPECT_EQ(p.Get("dbname"), "x") << dsn;
    EXPECT_EQ(p.Get("connect_timeout"), "3") << dsn;
    EXPECT_EQ(p.Get("keepalives"), "1") << dsn;
    EXPECT_EQ(p.Get("keepalives_idle"), "30") << dsn;
    EXPECT_EQ(p.Get("keepalives_interval"), "10") << dsn;
    EXPECT_EQ(p.Get("keepalives_count"), "3") << dsn;
    EXPECT_EQ(p.Get("tcp_user_timeout"), "9000") << dsn;
    EXPECT_EQ(p.Get("options"), "-c statement_timeout=4000") << dsn;
    EXPECT_EQ(p.response_timeout(), 6500ms) << dsn;
  }
  const ConnectParams named(
      "postgres://u@db/x?connect_timeout=1&tcp_user_timeout=100&options=-c%20work_mem%3D4MB", t);
  EXPECT_EQ(named.Get("connect_timeout"), "1");
  EXPECT_EQ(named.Get("tcp_user_timeout"), "100");
  EXPECT_EQ(named.Get("options"), "-c work_mem=4MB -c statement_timeout=4000");
  const ConnectParams own("host=db options='-c statement_timeout=0'", t);
  EXPECT_EQ(own.Get("options"), "-c statement_timeout=0");
  EXPECT_EQ(own.response_timeout(), std::nullopt) << "the DSN's own statement timeout: no client limit";
  const ConnectParams none("host=db", t.WithoutStatementTimeout());
  EXPECT_EQ(none.Get("options"), std::nullopt);
  EXPECT_EQ(none.Get("connect_timeout"), "3");
  EXPECT_EQ(none.response_timeout(), std::nullopt);
}

TEST(PgTimeouts, DefaultsAndOverridesBesideTheDsn) {
  const ConnectParams p("host=db application_name=mine", Timeouts{},
                        {{"fallback_application_name", "loop"}, {"application_name", "default"}},
                        {{"replication", "database"}});
  EXPECT_EQ(p.Get("application_name"), "mine");
  EXPECT_EQ(p.Get("fallback_application_name"), "loop");
  EXPECT_EQ(p.Get("replication"), "database");
  // The arrays libpq reads end with a null key.
  int n = 0;
  while (p.keys()[n] != nullptr) ++n;
  EXPECT_EQ(p.values()[n], nullptr);
  EXPECT_GE(n, 9);
}

TEST(PgTimeouts, UnparsableDsnIsAnInvalidArgument) {
  try {
    ConnectParams p("host=db dbname", Timeouts{});
    ADD_FAILURE() << "accepted";
  } catch (const PgError& e) {
    EXPECT_EQ(e.kind(), error::Kind::kInvalidArgument);
  }
}

}  // namespace
}  // namespace rainbow::pg
