#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "common/kafka/dead_letter.hpp"
#include "common/pg/connection.hpp"
#include "common/pg/migrations.hpp"
#include "services/loader/src/clickhouse_client.hpp"
#include "services/loader/src/metrics.hpp"
#include "services/loader/src/status.hpp"

namespace rainbow::loader {

// A warehouse table the serving layer copies: its columns as ClickHouse receives them (expressions
// over alias t, in the order of the ClickHouse table's columns) and whether its deletes are logged in
// warehouse.deleted_rows (migration 002).
struct ServingTable {
  std::string name;  // the same in warehouse and ClickHouse
  std::vector<std::string> columns;
  bool deletes = false;
};

// The tables copied to ClickHouse, each with its export expressions, in copy order (fact_sales last,
// so a fact copied in a round mostly finds its dimension rows already there; a member changed again
// since the round began arrives in the next round).
const std::vector<ServingTable>& ServingTables();

// The statement that exports a table's rows (and logged deletes, with is_deleted = 1) whose version is
// in (after, upto], as a COPY ... TO STDOUT whose text output ClickHouse reads as TabSeparated.
std::string ServingExportSql(const ServingTable& table, int64_t after, int64_t upto);

// A migration file's statements (ClickHouse's HTTP interface takes one per request): split at a ';'
// that ends a line, comment lines dropped.
std::vector<std::string> SplitStatements(const std::string& sql);

// The ClickHouse migrations (services/loader/clickhouse/*.sql, embedded at build time).
std::vector<pg::Migration> ClickHouseMigrations();

// Applies the ClickHouse migrations not yet recorded in <database>.schema_migrations (creating the
// database and the history table first). Returns how many were applied.
int ApplyClickHouseMigrations(ClickHouseClient& ch);

// The serving-layer sink: copies the warehouse's fact_sales, dimensions (every SCD2 version),
// dim_dates and the staging mirrors of orders and order lines to ClickHouse, incrementally by the
// warehouse's _version, in steps of up to `copy_lanes` windows of `batch_versions` versions copied at
// once, each by its own lane (a warehouse connection and a ClickHouse client): reading PostgreSQL's
// export is the slow side, and two reads in parallel outrun one. Each insert is one block (all or
// nothing) and ReplacingMergeTree keeps one row per key, so a replay after a crash is harmless.
//
// Its progress is kept in ClickHouse's copy_progress table (migration 002), written only after every
// lane of a step has succeeded, and read back at start and after a failure. ClickHouse's max(_version)
// cannot serve: when one lane fails and the lane above it succeeds, ClickHouse holds versions above a
// gap, and resuming from its max() would skip the gap for ever.
// Versions are read only up to the watermark below which every version is committed (the advisory
// lock of migration 002), so a transaction committing late is never skipped.
//
// With several loader replicas one copies (a session advisory lock on the warehouse) and the others
// stand by, taking over when its session ends.
//
// A row ClickHouse refuses (a value its column cannot hold: IsRowValueClickHouseCode) must not stop
// the copy: the refused block is copied again in halves, down to single versions, and the rows still
// refused go to the dead-letter topic `serving.clickhouse.dlq` with ClickHouse's error (key
// "<table>/<version>", value the exported row, header dlq.table); the rest of the block is copied.
// A block of which ClickHouse took no row and refused kMostRefusedWithNoneCopied or more is taken for
// a table ClickHouse cannot take at all (a column changed by hand): it fails the round, as a refused
// statement does, instead of dead-lettering the whole table.
//
// Owned by main's ClickHouse thread (a step's other lanes run on threads of their own, joined before
// the step ends); RunOnce is called in a loop until stop. A failure (ClickHouse or the warehouse down,
// the dead-letter topic unwritable) throws; the caller backs off and calls RunOnce again.
class ClickHouseSink {
 public:
  // pg_timeouts: of its warehouse connection, without the statement timeout (see RunOnce).
  // dead_letters: where refused rows go; nullptr: a refused row fails the round (and every retry).
  ClickHouseSink(const ClickHouseConfig& config, std::string warehouse_dsn, LoaderMetrics* metrics,
                 LoaderStatus* status, pg::Timeouts pg_timeouts = {},
                 kafka::DeadLetterWriter* dead_letters = nullptr);

  // One round: migrate on first use, then copy every table up to the current watermark. Returns the
  // rows copied (0: caught up).
  int64_t RunOnce(std::stop_token stop);
  // Forget connections and progress (after a failure): the next round reads both again.
  void Reset();

 private:
  int64_t Watermark();
  // A version ClickHouse refused a row of, and its error.
  struct Refused {
    int64_t version;
    std::string error;
  };
  // What copies one window at a time: a warehouse connection (made on first use) and a ClickHouse
  // client. Lane 0's session holds the copier lock and takes the watermark.
  struct Lane {
    std::unique_ptr<pg::Connection> pg;
    std::unique_ptr<ClickHouseClient> ch;
  };
  Lane& ConnectedLane(size_t i);
  ClickHouseClient& ch() { return *lanes_[0].ch; }
  // Dead letters are written only when some rows of the block were copied, or fewer than this many
  // were refused (see CopyRange).
  static constexpr size_t kMostRefusedWithNoneCopied = 10;

  // One step: (after, upto] cut into at most copy_lanes windows of at most batch_versions, each copied
  // by its lane, all at once; then the refused rows are dead-lettered. Throws the first lane's failure
  // once every lane has ended. Returns the rows copied; sets dead_lettered when it dead-lettered any.
  int64_t CopyStep(const ServingTable& t, int64_t after, int64_t upto, bool& dead_lettered);
  // Copies the versions (after, upto] on `lane`; the versions of rows ClickHouse refuses (the class
  // comment) are added to `refused`. Returns the rows copied.
  int64_t CopyRange(Lane& lane, const ServingTable& t, int64_t after, int64_t upto,
                    std::vector<Refused>& refused);
  // One insert of (after, upto]. With `refused` (inside a split), a refused value splits the range
  // further and a single refused version is added to `refused`; without, any error is thrown.
  int64_t CopyOrCollect(Lane& lane, const ServingTable& t, int64_t after, int64_t upto,
                        std::vector<Refused>* refused);
  // After ClickHouse refused a value in (after, upto]: the range in halves, each by CopyOrCollect.
  int64_t CopyAroundRefusedRows(Lane& lane, const ServingTable& t, int64_t after, int64_t upto,
                                std::vector<Refused>& refused);
  void DeadLetterRows(const ServingTable& t, int64_t version, const std::string& error);
  // Reads copy_progress into progress_.
  void ReadProgress();
  // Writes the progress not yet written (unwritten_) to copy_progress, in one insert.
  void WriteProgress();

  std::vector<Lane> lanes_;
  std::string warehouse_dsn_;
  pg::Timeouts pg_timeouts_;
  // How long an export may receive nothing: PG_STATEMENT_TIMEOUT + PG_CONNECT_TIMEOUT (0: no limit).
  std::chrono::milliseconds ExportStall() const;
  LoaderMetrics* metrics_;
  LoaderStatus* status_;
  kafka::DeadLetterWriter* dead_letters_;
  bool migrated_ = false;
  bool leader_ = false;                       // holds the copier lock on lane 0's session
  std::map<std::string, int64_t> progress_;   // table -> every version up to it is in ClickHouse
  std::map<std::string, int64_t> unwritten_;  // progress_ not yet in copy_progress
};

}  // namespace rainbow::loader
