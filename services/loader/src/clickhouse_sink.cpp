#include "services/loader/src/clickhouse_sink.hpp"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <exception>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/logging/log.hpp"

namespace rainbow::loader {
namespace {

// The advisory lock of migration 002: warehouse statements that take versions hold it shared.
constexpr const char* kVersionLock = "7263104101";
// Held (session level) by the one loader replica that copies; the others stand by until it goes.
constexpr const char* kCopierLock = "7263104102";

// A DateTime as Unix seconds, which ClickHouse's TabSeparated reads into DateTime (and which costs
// PostgreSQL a third of to_char's time); times before 1970 (an SCD2 first version's 1900-01-01) become
// 1970-01-01, DateTime's floor, and times past 2106 its ceiling. Zero-padded to ten digits: where a
// value ends near the end of ClickHouse's read buffer, 18.16 parses it with a slower routine that
// takes only 5 to 10 digits ("0" fails there with "Cannot parse datetime", depending on where the
// buffer happens to end). NULL stays NULL.
std::string Ts(const std::string& c) {
  return "CASE WHEN t." + c + " IS NULL THEN NULL ELSE lpad(least(greatest(floor(date_part('epoch', t." + c +
         ")), 0), 4294967295)::bigint::text, 10, '0') END";
}
std::string B(const std::string& c) { return "t." + c + "::int"; }
std::string C(const std::string& c) { return "t." + c; }

struct Col {
  std::string name, expr;
};

std::vector<Col> Plain(std::initializer_list<const char*> names) {
  std::vector<Col> out;
  for (const char* n : names) out.push_back({n, C(n)});
  return out;
}

std::vector<Col> Scd2Tail() {
  return {{"valid_from", Ts("valid_from")},
          {"valid_to", Ts("valid_to")},
          {"is_current", B("is_current")},
          {"is_inferred", B("is_inferred")},
          {"is_deleted", B("is_deleted")}};
}

std::vector<Col> Concat(std::vector<Col> a, const std::vector<Col>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct Spec {
  std::string name;
  std::vector<Col> cols;
  bool deletes;
};

const std::vector<Spec>& Specs() {
  static const std::vector<Spec> specs = [] {
    std::vector<Spec> s;
    s.push_back(
        {"dim_customers",
         Concat(Plain({"customer_key", "customer_id", "first_name", "last_name", "email"}), Scd2Tail()),
         false});
    s.push_back(
        {"dim_payments", Concat(Plain({"payment_key", "payment_id", "name", "type"}), Scd2Tail()), false});
    s.push_back({"dim_sellers",
                 Concat(Concat(Plain({"seller_key", "seller_id", "name", "link"}),
                               {{"is_best_store", B("is_best_store")}}),
                        Scd2Tail()),
                 false});
    s.push_back({"dim_promotions",
                 Concat(Concat(Plain({"promotion_key", "promotion_id", "name", "type", "price_treatment",
                                      "coupon_type"}),
                               {{"is_global", B("is_global")},
                                {"promo_begin", Ts("promo_begin")},
                                {"promo_end", Ts("promo_end")}}),
                        Scd2Tail()),
                 false});
    s.push_back(
        {"dim_products",
         Concat(Plain({"product_key", "product_id", "name", "price", "original_price", "rating_average",
                       "review_count", "sold_count", "category_id", "seller_id", "brand_id", "promotion_id"}),
                Scd2Tail()),
         false});
    s.push_back({"dim_dates",
                 Concat(Plain({"date_key", "date", "day", "month", "month_name", "year", "quarter", "week",
                               "day_of_week", "day_name"}),
                        {{"is_weekend", B("is_weekend")}}),
                 false});
    const auto stg = [](std::initializer_list<const char*> names) {
      return Concat(Concat(Plain({"_key", "_op", "_lsn"}), {{"_source_ts", Ts("_source_ts")}}), Plain(names));
    };
    s.push_back({"stg_orders",
                 stg({"id", "customer_id", "payment_id", "status", "created_at", "updated_at", "deleted_at"}),
                 true});
    s.push_back({"stg_orderdetails",
                 stg({"order_id", "line_no", "product_id", "quantity", "price", "promotion_id",
                      "discount_unit_price", "created_at", "updated_at", "deleted_at"}),
                 true});
    // Last: a round copies the members before the facts that point at them.
    s.push_back({"fact_sales",
                 Concat(Concat(Plain({"order_id", "line_no"}), {{"order_ts", Ts("order_ts")}}),
                        Plain({"date_key", "product_id", "customer_id", "payment_id", "promotion_id",
                               "seller_id", "product_key", "customer_key", "payment_key", "promotion_key",
                               "seller_key", "sales_quantity", "regular_unit_price", "discount_unit_price",
                               "net_unit_price", "extended_discount_amount", "extended_sales_amount"})),
                 true});
    return s;
  }();
  return specs;
}

std::string ColumnList(const ServingTable& t) {
  std::string out;
  for (const auto& c : t.columns) out += (out.empty() ? "" : ", ") + c.substr(c.rfind(' ') + 1);
  if (t.deletes) out += ", is_deleted";
  return out + ", _version";
}

// COPY ... TO STDOUT read in chunks of about 256 KiB. If abandoned midway (an insert failed), the
// connection is left mid-COPY until Drain: the caller drains it or drops it (the sink's Reset after a
// failure). The export as a whole has no time limit (a big first copy takes as long as it takes), but
// a server that sends nothing for `stall` (a frozen warehouse) fails it: the socket is shut and a
// retryable PgError thrown, so the round ends, the sink reports not ready, and the next round
// reconnects. A zero `stall` waits for ever.
class CopyReader {
 public:
  CopyReader(pg::Connection& conn, const std::string& sql, std::chrono::milliseconds stall)
      : conn_(conn), stall_(stall) {
    PGconn* c = conn_.raw();
    if (PQsendQuery(c, sql.c_str()) == 0) throw pg::ResultError(nullptr, c, "clickhouse export");
    while (PQisBusy(c)) {
      WaitReadable();
      if (PQconsumeInput(c) == 0) break;  // PQgetResult reports the failure
    }
    PGresult* res = PQgetResult(c);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
      auto e = pg::ResultError(res, c, "clickhouse export");
      PQclear(res);
      while ((res = PQgetResult(c)) != nullptr) PQclear(res);
      throw e;
    }
    PQclear(res);
  }

  // Fills `chunk` (replacing it); false when the COPY has ended (checked for errors).
  bool Next(std::string& chunk) {
    chunk.clear();
    if (done_) return false;
    PGconn* c = conn_.raw();
    char* buf = nullptr;
    while (chunk.size() < 256 * 1024) {
      const int n = PQgetCopyData(c, &buf, 1);
      if (n > 0) {
        chunk.append(buf, static_cast<size_t>(n));
        PQfreemem(buf);
        continue;
      }
      if (n == 0) {  // nothing buffered: wait for the server (what was read so far goes out first)
        if (!chunk.empty()) return true;
        WaitReadable();
        if (PQconsumeInput(c) == 0) throw pg::ResultError(nullptr, c, "clickhouse export");
        continue;
      }
      done_ = true;
      PGresult* res = PQgetResult(c);
      std::optional<pg::PgError> error;
      if (PQresultStatus(res) != PGRES_COMMAND_OK) error = pg::ResultError(res, c, "clickhouse export");
      PQclear(res);
      while ((res = PQgetResult(c)) != nullptr) PQclear(res);
      if (error) throw *error;
      break;
    }
    return !chunk.empty();
  }

  // Reads what is left of the COPY, so the connection can run the next statement.
  void Drain() {
    std::string rest;
    while (Next(rest)) {
    }
  }

 private:
  void WaitReadable() {
    PGconn* c = conn_.raw();
    pollfd p{PQsocket(c), POLLIN, 0};
    for (;;) {
      const int n = ::poll(&p, 1, stall_.count() > 0 ? static_cast<int>(stall_.count()) : -1);
      if (n > 0 || (n < 0 && errno != EINTR)) return;  // readable or failed: libpq tells which
      if (n == 0) {
        ::shutdown(PQsocket(c), SHUT_RDWR);
        done_ = true;
        throw pg::PgError(
            "pg: clickhouse export: no data from the server for " + std::to_string(stall_.count()) + " ms",
            "08006", error::Kind::kRetryable);
      }
    }
  }

  pg::Connection& conn_;
  const std::chrono::milliseconds stall_;
  bool done_ = false;
};

}  // namespace

const std::vector<ServingTable>& ServingTables() {
  // Each column is "<export expression> AS <ClickHouse column>".
  static const std::vector<ServingTable> tables = [] {
    std::vector<ServingTable> out;
    for (const auto& s : Specs()) {
      ServingTable t{s.name, {}, s.deletes};
      for (const auto& c : s.cols) t.columns.push_back(c.expr + " AS " + c.name);
      out.push_back(std::move(t));
    }
    return out;
  }();
  return tables;
}

std::string ServingExportSql(const ServingTable& table, int64_t after, int64_t upto) {
  std::string cols;
  for (const auto& c : table.columns) cols += (cols.empty() ? "" : ", ") + c;
  const auto range = [&](const char* alias) {
    const std::string v = std::string(alias) + "._version";
    return v + " > " + std::to_string(after) + " AND " + v + " <= " + std::to_string(upto);
  };
  std::string sql = "COPY (SELECT " + cols + (table.deletes ? ", 0" : "") + ", t._version FROM warehouse." +
                    table.name + " t WHERE " + range("t");
  if (table.deletes) {
    sql += " UNION ALL SELECT " + cols +
           ", 1, d._version FROM warehouse.deleted_rows d CROSS JOIN LATERAL "
           "jsonb_populate_record(NULL::warehouse." +
           table.name + ", d.old_row) t WHERE d.table_name = '" + table.name + "' AND " + range("d");
  }
  return sql + ") TO STDOUT";
}

std::vector<std::string> SplitStatements(const std::string& sql) {
  std::vector<std::string> out;
  std::istringstream in(sql);
  std::string line, cur;
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line.compare(first, 2, "--") == 0) continue;
    cur += line + "\n";
    const auto last = line.find_last_not_of(" \t\r");
    if (line[last] == ';') {
      cur.erase(cur.find_last_of(';'));
      out.push_back(cur);
      cur.clear();
    }
  }
  if (cur.find_first_not_of(" \t\n") != std::string::npos) out.push_back(cur);
  return out;
}

int ApplyClickHouseMigrations(ClickHouseClient& ch) {
  ch.Query("CREATE DATABASE IF NOT EXISTS " + ch.config().database, false);
  ch.Query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, applied_at DateTime) "
      "ENGINE = MergeTree ORDER BY version");
  std::set<int> applied;
  std::istringstream rows(ch.Query("SELECT version FROM schema_migrations"));
  for (std::string v; std::getline(rows, v);)
    if (!v.empty()) applied.insert(std::stoi(v));
  int n = 0;
  for (const auto& m : ClickHouseMigrations()) {
    if (applied.contains(m.version)) continue;
    // Statements are CREATE ... (no IF NOT EXISTS in the files): a migration that failed halfway is
    // finished by running its statements again, skipping the objects that already exist (code 57).
    for (const auto& st : SplitStatements(m.sql)) {
      try {
        ch.Query(st);
      } catch (const ClickHouseError& e) {
        if (e.code() != 57) throw;  // TABLE_ALREADY_EXISTS
      }
    }
    ch.InsertTsv("schema_migrations (version, name, applied_at)",
                 std::to_string(m.version) + "\t" + m.name + "\t" +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count()) +
                     "\n");
    log::Info("clickhouse migration applied", {{"version", m.version}, {"name", m.name}});
    ++n;
  }
  return n;
}

ClickHouseSink::ClickHouseSink(const ClickHouseConfig& config, std::string warehouse_dsn,
                               LoaderMetrics* metrics, LoaderStatus* status, pg::Timeouts pg_timeouts,
                               kafka::DeadLetterWriter* dead_letters)
    : warehouse_dsn_(std::move(warehouse_dsn)),
      pg_timeouts_(pg_timeouts),
      metrics_(metrics),
      status_(status),
      dead_letters_(dead_letters) {
  lanes_.resize(static_cast<size_t>(std::max(1, config.copy_lanes)));
  for (auto& lane : lanes_) lane.ch = std::make_unique<ClickHouseClient>(config);
}

std::chrono::milliseconds ClickHouseSink::ExportStall() const {
  return pg_timeouts_.ResponseTimeout().value_or(std::chrono::milliseconds(0));
}

void ClickHouseSink::Reset() {
  for (auto& lane : lanes_) lane.pg.reset();  // and with lane 0's session the copier lock
  leader_ = false;
  progress_.clear();
  unwritten_.clear();
}

ClickHouseSink::Lane& ClickHouseSink::ConnectedLane(size_t i) {
  Lane& lane = lanes_.at(i);
  if (!lane.pg) {
    // No statement timeout: one COPY ... TO STDOUT exports a whole window, which takes as long as the
    // window is big.
    lane.pg = std::make_unique<pg::Connection>(warehouse_dsn_, std::map<std::string, std::string>{},
                                               pg_timeouts_.WithoutStatementTimeout());
    lane.pg->Exec("SET DateStyle = ISO; SET extra_float_digits = 3");
  }
  return lane;
}

void ClickHouseSink::ReadProgress() {
  progress_.clear();
  for (const auto& t : ServingTables()) progress_[t.name] = 0;
  std::istringstream rows(
      ch().Query("SELECT table_name, max(version) FROM copy_progress GROUP BY table_name"));
  for (std::string line; std::getline(rows, line);) {
    const auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    const auto it = progress_.find(line.substr(0, tab));
    if (it != progress_.end()) it->second = std::stoll(line.substr(tab + 1));
  }
}

void ClickHouseSink::WriteProgress() {
  if (unwritten_.empty()) return;
  const auto now = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  std::string rows;
  for (const auto& [table, version] : unwritten_)
    rows += table + "\t" + std::to_string(version) + "\t" + now + "\n";
  ch().InsertTsv("copy_progress (table_name, version, at)", rows);
  unwritten_.clear();
}

int64_t ClickHouseSink::Watermark() {
  // Exclusive for an instant: every transaction that took a version has ended, so every version up to
  // the sequence's value is committed (and visible to the statements that follow).
  pg::Connection& pg = *ConnectedLane(0).pg;
  pg.Exec(std::string("SELECT pg_advisory_lock(") + kVersionLock + ")");
  int64_t hw = 0;
  try {
    const auto r =
        pg.Exec("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM warehouse.serving_version_seq");
    hw = r.Int(0, 0);
  } catch (...) {
    pg.Exec(std::string("SELECT pg_advisory_unlock(") + kVersionLock + ")");
    throw;
  }
  pg.Exec(std::string("SELECT pg_advisory_unlock(") + kVersionLock + ")");
  return hw;
}

int64_t ClickHouseSink::CopyStep(const ServingTable& t, int64_t after, int64_t upto, bool& dead_lettered) {
  const int64_t batch = std::max<int64_t>(1, ch().config().batch_versions);
  const size_t parts = static_cast<size_t>(
      std::min<int64_t>(static_cast<int64_t>(lanes_.size()), (upto - after + batch - 1) / batch));
  const auto bound = [&](size_t i) { return after + (upto - after) * static_cast<int64_t>(i) / parts; };
  std::vector<int64_t> copied(parts, 0);
  std::vector<std::vector<Refused>> refused(parts);
  std::vector<std::exception_ptr> failed(parts);
  const auto copy = [&](size_t i) {
    try {
      copied[i] = CopyRange(ConnectedLane(i), t, bound(i), bound(i + 1), refused[i]);
    } catch (...) {
      failed[i] = std::current_exception();
    }
  };
  {
    std::vector<std::jthread> others;
    for (size_t i = 1; i < parts; ++i) others.emplace_back(copy, i);
    copy(0);
  }  // every lane has ended
  for (const auto& f : failed)
    if (f) std::rethrow_exception(f);
  int64_t n = 0;
  for (size_t i = 0; i < parts; ++i) {
    n += copied[i];
    for (const auto& r : refused[i]) {
      DeadLetterRows(t, r.version, r.error);
      dead_lettered = true;
    }
  }
  return n;
}

int64_t ClickHouseSink::CopyRange(Lane& lane, const ServingTable& t, int64_t after, int64_t upto,
                                  std::vector<Refused>& refused) {
  try {
    return CopyOrCollect(lane, t, after, upto, nullptr);
  } catch (const ClickHouseError& e) {
    if (dead_letters_ == nullptr || !IsRowValueClickHouseCode(e.code())) throw;
    std::vector<Refused> here;
    const int64_t copied = CopyAroundRefusedRows(lane, t, after, upto, here);
    // Every row of a sizeable block refused is not bad data but a table ClickHouse cannot take (a
    // column type changed by hand): that is retried until fixed, not the whole table dead-lettered.
    if (copied == 0 && here.size() >= kMostRefusedWithNoneCopied) throw;
    refused.insert(refused.end(), here.begin(), here.end());
    return copied;
  }
}

int64_t ClickHouseSink::CopyOrCollect(Lane& lane, const ServingTable& t, int64_t after, int64_t upto,
                                      std::vector<Refused>* refused) {
  const auto start = std::chrono::steady_clock::now();
  // PostgreSQL's COPY output streams into the insert as it comes (reading and writing overlap). The
  // first chunk is read before the insert starts, so a range without rows costs no request.
  CopyReader reader(*lane.pg, ServingExportSql(t, after, upto), ExportStall());
  std::string first;
  if (!reader.Next(first)) return 0;
  int64_t n = std::count(first.begin(), first.end(), '\n');
  bool first_pending = true;
  try {
    lane.ch->InsertTsvStream(t.name + " (" + ColumnList(t) + ")", [&](std::string& chunk) {
      if (first_pending) {
        first_pending = false;
        chunk.swap(first);
        return true;
      }
      if (!reader.Next(chunk)) return false;
      n += std::count(chunk.begin(), chunk.end(), '\n');
      return true;
    });
  } catch (const ClickHouseError& e) {
    // ClickHouse may have kept the blocks before the refused one (an insert above its
    // max_insert_block_size): copying them again is harmless (ReplacingMergeTree, same versions).
    if (!IsRowValueClickHouseCode(e.code())) throw;
    reader.Drain();  // the connection must be free for the exports of the split
    if (refused == nullptr) throw;
    if (upto - after == 1) {
      refused->push_back({upto, e.what()});
      return 0;
    }
    return CopyAroundRefusedRows(lane, t, after, upto, *refused);
  }
  if (metrics_ && n > 0)
    metrics_->Batch("clickhouse", "committed", static_cast<double>(n),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return n;
}

int64_t ClickHouseSink::CopyAroundRefusedRows(Lane& lane, const ServingTable& t, int64_t after, int64_t upto,
                                              std::vector<Refused>& refused) {
  if (upto - after == 1) {  // a single version that failed as part of the first, streamed insert
    return CopyOrCollect(lane, t, after, upto, &refused);
  }
  const int64_t mid = after + (upto - after) / 2;
  return CopyOrCollect(lane, t, after, mid, &refused) + CopyOrCollect(lane, t, mid, upto, &refused);
}

void ClickHouseSink::DeadLetterRows(const ServingTable& t, int64_t version, const std::string& error) {
  CopyReader reader(*ConnectedLane(0).pg, ServingExportSql(t, version - 1, version), ExportStall());
  std::string rows, chunk;
  while (reader.Next(chunk)) rows += chunk;
  std::istringstream lines(rows);
  for (std::string line; std::getline(lines, line);) {
    kafka::ConsumedMessage row;
    row.topic = "serving.clickhouse";
    row.key = t.name + "/" + std::to_string(version);
    row.value = line;
    row.headers.push_back({"dlq.table", t.name});
    dead_letters_->Send(row, error);
    if (metrics_) metrics_->DeadLetter(t.name);
    log::Warn(
        "clickhouse refused a row, dead-lettered",
        {{"table", t.name}, {"version", version}, {"topic", "serving.clickhouse.dlq"}, {"error", error}});
  }
}

int64_t ClickHouseSink::RunOnce(std::stop_token stop) {
  if (!migrated_) {
    ApplyClickHouseMigrations(ch());
    migrated_ = true;
  }
  pg::Connection& pg = *ConnectedLane(0).pg;
  // One copier among the replicas (the lock goes with its session when it dies). Copying twice would
  // be harmless (same rows, same versions) but twice the work.
  if (!leader_ &&
      pg.Exec(std::string("SELECT pg_try_advisory_lock(") + kCopierLock + ")::int").Int(0, 0) == 1)
    leader_ = true;
  if (!leader_) {
    if (metrics_) metrics_->SinkUp("clickhouse", true);
    if (status_) status_->ClickHouseCopied(0, -1);
    return 0;
  }
  if (progress_.empty()) ReadProgress();
  const int64_t hw = Watermark();
  const int64_t step = ch().config().batch_versions * static_cast<int64_t>(lanes_.size());
  int64_t copied = 0, behind = 0;
  for (const auto& t : ServingTables()) {
    auto& done = progress_[t.name];
    while (done < hw && !stop.stop_requested()) {
      const int64_t upto = std::min(hw, done + step);
      const bool whole = upto - done == step;
      bool dead_lettered = false;
      const int64_t n = CopyStep(t, done, upto, dead_lettered);
      copied += n;
      done = upto;
      // Written when rows were copied or dead-lettered (a window without rows is cheap to read again,
      // and its dead letters are not sent twice): at the end of the round, and at once while a backlog
      // is copied in whole steps, so that a failure late in a long round loses little.
      if (n > 0 || dead_lettered) unwritten_[t.name] = done;
      if (whole) WriteProgress();
    }
    behind = std::max(behind, hw - done);
  }
  WriteProgress();
  if (metrics_) metrics_->SinkUp("clickhouse", true);
  if (status_) status_->ClickHouseCopied(copied, behind);
  return copied;
}

}  // namespace rainbow::loader
