// common/pg against the real PostgreSQL of the test stack.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/pg/pool.hpp"
#include "tests/support/stack_env.hpp"

namespace rainbow::pg {
namespace {

using rainbow::testing::StackEnv;
using rainbow::testing::UniqueName;

class PgPool : public ::testing::Test {
 protected:
  void SetUp() override {
    table_ = "pool_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++);
    Connection admin(StackEnv("PG_DSN"));
    admin.Exec("CREATE TABLE " + table_ +
               " (id bigserial PRIMARY KEY, worker int NOT NULL, n int NOT NULL, "
               "UNIQUE (worker, n))");
  }
  void TearDown() override {
    Connection admin(StackEnv("PG_DSN"));
    admin.Exec("DROP TABLE IF EXISTS " + table_);
  }
  PoolConfig Config(int size) {
    PoolConfig c;
    c.dsn = StackEnv("PG_DSN");
    c.size = size;
    c.statements = {{"insert_row", "INSERT INTO " + table_ + " (worker, n) VALUES ($1, $2) RETURNING id"},
                    {"count_rows", "SELECT count(*) FROM " + table_ + " WHERE worker = $1"}};
    return c;
  }
  std::string table_;
  static inline int counter_ = 0;
};

TEST_F(PgPool, WalLevelIsLogical) {
  Connection conn(StackEnv("PG_DSN"));
  auto r = conn.Exec("SHOW wal_level");
  ASSERT_EQ(r.rows(), 1);
  EXPECT_EQ(r.Text(0, 0), "logical");
}

TEST_F(PgPool, EightThreadsSharePreparedStatementsWithoutExceedingTheSize) {
  Pool pool(Config(4));
  constexpr int kThreads = 8;
  constexpr int kRowsEach = 250;
  std::atomic<int> max_in_use{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int n = 0; n < kRowsEach; ++n) {
        try {
          auto conn = pool.Acquire();
          auto r = conn->ExecPrepared("insert_row", {std::to_string(w), std::to_string(n)});
          if (r.rows() != 1 || r.Int(0, 0) <= 0) errors++;
          const int in_use = pool.Stats().in_use;
          int seen = max_in_use.load();
          while (in_use > seen && !max_in_use.compare_exchange_weak(seen, in_use)) {
          }
        } catch (const std::exception&) {
          errors++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LE(max_in_use.load(), 4);
  EXPECT_GE(max_in_use.load(), 2) << "threads never overlapped: the test did not exercise the pool";
  auto conn = pool.Acquire();
  for (int w = 0; w < kThreads; ++w) {
    EXPECT_EQ(conn->ExecPrepared("count_rows", {std::to_string(w)}).Int(0, 0), kRowsEach);
  }
  EXPECT_LE(pool.Stats().open, 4);
}

TEST_F(PgPool, TransactionIsRolledBackOnError) {
  Pool pool(Config(2));
  {
    auto conn = pool.Acquire();
    try {
      Transaction tx(*conn);
      conn->ExecPrepared("insert_row", {"1", "1"});
      conn->ExecPrepared("insert_row", {"1", "2"});
      conn->ExecPrepared("insert_row", {"1", "1"});  // duplicate: unique violation
      tx.Commit();
      FAIL() << "expected a unique violation";
    } catch (const PgError& e) {
      EXPECT_EQ(e.sqlstate(), "23505");
      EXPECT_EQ(e.kind(), error::Kind::kConflict);
    }
  }
  auto conn = pool.Acquire();
  EXPECT_EQ(conn->ExecPrepared("count_rows", {"1"}).Int(0, 0), 0) << "a failed unit of work left rows behind";
  EXPECT_FALSE(conn->InTransaction());
}

TEST_F(PgPool, ParametersAreNeverInterpolated) {
  Pool pool(Config(1));
  auto conn = pool.Acquire();
  const std::string hostile = "1); DROP TABLE " + table_ + "; --";
  EXPECT_THROW(conn->ExecPrepared("insert_row", {"1", hostile}), PgError);
  EXPECT_EQ(conn->Exec("SELECT count(*) FROM " + table_).Int(0, 0), 0);  // the table is still there
}

TEST_F(PgPool, BrokenConnectionIsDiscardedAndReplaced) {
  Pool pool(Config(1));
  int pid = 0;
  {
    auto conn = pool.Acquire();
    pid = static_cast<int>(conn->Exec("SELECT pg_backend_pid()").Int(0, 0));
  }
  Connection admin(StackEnv("PG_DSN"));
  admin.Exec("SELECT pg_terminate_backend($1)", {std::to_string(pid)});
  {
    auto conn = pool.Acquire();  // the idle connection was killed under the pool
    try {
      conn->ExecPrepared("count_rows", {"1"});
      FAIL() << "expected the terminated connection to fail";
    } catch (const PgError& e) {
      EXPECT_EQ(e.kind(), error::Kind::kRetryable) << e.what();
    }
  }
  auto conn = pool.Acquire();
  EXPECT_EQ(conn->ExecPrepared("count_rows", {"1"}).Int(0, 0), 0);
  EXPECT_NE(conn->Exec("SELECT pg_backend_pid()").Int(0, 0), pid);
}

TEST_F(PgPool, AcquireTimesOutWhenExhausted) {
  auto config = Config(1);
  config.acquire_timeout = std::chrono::milliseconds(200);
  Pool pool(config);
  auto held = pool.Acquire();
  try {
    pool.Acquire();
    FAIL();
  } catch (const PgError& e) {
    EXPECT_EQ(e.kind(), error::Kind::kRetryable);
  }
}

TEST(PgConnection, WrongPasswordIsAClearError) {
  std::string dsn = StackEnv("PG_DSN");
  const auto at = dsn.find("password=");
  ASSERT_NE(at, std::string::npos);
  dsn = dsn.substr(0, at) + "password=wrong";
  try {
    Connection conn(dsn);
    FAIL();
  } catch (const PgError& e) {
    EXPECT_NE(std::string(e.what()).find("password authentication failed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace rainbow::pg
