#include "services/loader/src/warehouse_writer.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <unordered_map>

#include "services/loader/src/dimensions.hpp"
#include "services/loader/src/facts.hpp"

namespace rainbow::loader {
namespace {

// The meta columns every staging table starts with (migrations/001_warehouse.sql).
constexpr const char* kMetaColumns[] = {"_key",   "_op",        "_lsn",   "_source_ts",
                                        "_topic", "_partition", "_offset"};
// What Debezium writes for an unchanged TOASTed value it could not read: keep the stored one.
constexpr const char* kUnavailable = "__debezium_unavailable_value";

std::string Staging(const std::string& table) { return "warehouse.stg_" + table; }
// A source column as an SQL identifier: plain identifiers (change_event.hpp) may still be reserved words
// (order, user, end, limit).
std::string Quoted(const std::string& column) { return "\"" + column + "\""; }
std::string Temp(const std::string& table) { return "loader_tmp_" + table; }

}  // namespace

std::string IsoUtc(int64_t ts_ms) {
  const std::time_t secs = static_cast<std::time_t>(ts_ms >= 0 ? ts_ms / 1000 : (ts_ms - 999) / 1000);
  const int64_t millis = ts_ms - static_cast<int64_t>(secs) * 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03d+00", static_cast<int>(millis));
  return buf;
}

namespace {

// Where an event stands in the source's commit order: its LSN when it has one, else its commit time.
struct SourcePosition {
  std::optional<int64_t> lsn;
  int64_t ts_ms = 0;
  friend bool operator<(const SourcePosition& a, const SourcePosition& b) {
    if (a.lsn && b.lsn) return *a.lsn < *b.lsn;
    return a.ts_ms < b.ts_ms;
  }
};
SourcePosition Position(const ChangeEvent& e) { return {e.lsn, e.source_ts_ms}; }
SourcePosition max(const SourcePosition& a, const SourcePosition& b) { return a < b ? b : a; }

struct TableBatch {
  std::string table;
  std::vector<const ChangeEvent*> events;  // those after the last truncate, tombstones left out
  std::optional<SourcePosition> truncate;  // the latest truncate's position
  std::set<std::string> columns;
  int rounds = 0;
  std::vector<int> round_of;  // per event: the how-manieth event of its key in this batch
};

}  // namespace

void AppendCopyText(std::string& out, const std::string& value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

void WarehouseWriter::LoadColumns() {
  columns_.clear();
  const auto r = conn_.Exec(
      "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'warehouse' "
      "AND table_name LIKE 'stg\\_%'");
  for (int i = 0; i < r.rows(); ++i) {
    // _version (migration 002) is the serving layer's, set by a trigger: never copied or merged.
    if (r.Text(i, 1) == "_version") continue;
    columns_[std::string(r.Text(i, 0).substr(4))].insert(std::string(r.Text(i, 1)));
  }
  columns_loaded_ = true;
}

void WarehouseWriter::EnsureStaging(const std::string& table, const std::set<std::string>& columns) {
  auto& known = columns_[table];
  if (known.empty()) {
    conn_.Exec(
        "CREATE TABLE IF NOT EXISTS " + Staging(table) +
        " (_key text PRIMARY KEY, _op char(1) NOT NULL, _lsn bigint, _source_ts timestamptz, _topic text, "
        "_partition integer, _offset bigint, _loaded_at timestamptz NOT NULL DEFAULT now())");
    for (const char* m : kMetaColumns) known.insert(m);
    known.insert("_loaded_at");
  }
  for (const auto& c : columns) {
    if (known.contains(c)) continue;
    conn_.Exec("ALTER TABLE " + Staging(table) + " ADD COLUMN IF NOT EXISTS " + Quoted(c) + " text");
    known.insert(c);
  }
}

ApplyCounts WarehouseWriter::Apply(const std::vector<const ChangeEvent*>& events) {
  try {
    return ApplyLocked(events);
  } catch (...) {
    columns_loaded_ = false;  // an ALTER may be rolled back with the transaction
    throw;
  }
}

ApplyCounts WarehouseWriter::ApplyLocked(const std::vector<const ChangeEvent*>& events) {
  if (!columns_loaded_) LoadColumns();
  ApplyCounts counts;
  // Group by table in arrival order; a truncate drops what came before it.
  std::vector<TableBatch> tables;
  std::unordered_map<std::string, size_t> index;
  for (const ChangeEvent* e : events) {
    counts.events[{e->table, e->op}]++;
    if (e->op == 'x') continue;
    auto [it, fresh] = index.try_emplace(e->table, tables.size());
    if (fresh) tables.push_back({e->table});
    TableBatch& t = tables[it->second];
    if (e->op == 't') {
      t.truncate = t.truncate ? max(*t.truncate, Position(*e)) : Position(*e);
      continue;
    }
    t.events.push_back(e);
  }
  // A truncate removes what was committed before it, whichever partition it came by: the batch's events
  // and the staging rows from before its position (LSN, else commit time).
  for (TableBatch& t : tables) {
    if (!t.truncate) continue;
    std::erase_if(t.events, [&](const ChangeEvent* e) { return Position(*e) < *t.truncate; });
  }

  bool facts_truncated = false;
  std::vector<std::string> temps;
  for (TableBatch& t : tables) {
    for (const ChangeEvent* e : t.events) {
      for (const auto& [name, value] : e->row) t.columns.insert(name);
    }
    EnsureStaging(t.table, t.columns);
    if (t.truncate) {
      conn_.Exec("DELETE FROM " + Staging(t.table) + " WHERE " +
                 (t.truncate->lsn ? "_lsn < " + std::to_string(*t.truncate->lsn) + " OR _lsn IS NULL"
                                  : "_source_ts < '" + IsoUtc(t.truncate->ts_ms) + "'"));
      if (t.table == "orders" || t.table == "orderdetails") facts_truncated = true;
    }
    if (t.events.empty()) continue;
    std::unordered_map<std::string, int> seen;
    for (const ChangeEvent* e : t.events) {
      const int round = ++seen[e->key];
      t.round_of.push_back(round);
      t.rounds = std::max(t.rounds, round);
    }

    // COPY the batch into a temporary table shaped like staging, plus its order and round.
    const std::string tmp = Temp(t.table);
    conn_.Exec("CREATE TEMP TABLE " + tmp + " (LIKE " + Staging(t.table) +
               " INCLUDING DEFAULTS, _seq integer, _round integer) ON COMMIT DROP");
    temps.push_back(tmp);
    std::vector<std::string> data_columns(t.columns.begin(), t.columns.end());
    std::string copy_sql =
        "COPY " + tmp + " (_key, _op, _lsn, _source_ts, _topic, _partition, _offset, _seq, _round";
    for (const auto& c : data_columns) copy_sql += ", " + Quoted(c);
    copy_sql += ") FROM STDIN";
    size_t next = 0;
    std::unordered_map<std::string, size_t> column_index;
    for (size_t i = 0; i < data_columns.size(); ++i) column_index[data_columns[i]] = i;
    std::vector<const std::optional<std::string>*> values(data_columns.size());
    conn_.CopyFrom(copy_sql, [&](std::string& chunk) {
      chunk.clear();
      for (; next < t.events.size() && chunk.size() < 256 * 1024; ++next) {
        const ChangeEvent& e = *t.events[next];
        AppendCopyText(chunk, e.key);
        chunk += '\t';
        chunk += e.op;
        chunk += '\t';
        chunk += e.lsn ? std::to_string(*e.lsn) : "\\N";
        chunk += '\t' + IsoUtc(e.source_ts_ms) + '\t';
        AppendCopyText(chunk, e.topic);
        chunk += '\t' + std::to_string(e.partition) + '\t' + std::to_string(e.offset) + '\t' +
                 std::to_string(next) + '\t' + std::to_string(t.round_of[next]);
        std::fill(values.begin(), values.end(), nullptr);
        for (const auto& [name, value] : e.row) values[column_index[name]] = &value;
        for (const auto* v : values) {
          chunk += '\t';
          if (v == nullptr || !v->has_value()) {
            chunk += "\\N";
          } else {
            AppendCopyText(chunk, **v);
          }
        }
        chunk += '\n';
      }
      return !chunk.empty();
    });

    // Merge into staging: the last event per key decides.
    const auto& all_columns = columns_[t.table];
    std::string cols, sets;
    for (const auto& c : all_columns) {
      if (c == "_loaded_at") continue;
      cols += (cols.empty() ? "" : ", ") + Quoted(c);
      if (c == "_key") continue;
      const std::string stg = "stg_" + t.table;
      const std::string q = Quoted(c);
      sets += (sets.empty() ? "" : ", ") + q + " = ";
      sets += c.starts_with('_') ? "EXCLUDED." + q
                                 : "CASE WHEN EXCLUDED." + q + " = '" + kUnavailable + "' THEN " + stg + "." +
                                       q + " ELSE EXCLUDED." + q + " END";
    }
    // With one event per key (the common case) the temporary table is already "the last event per key".
    const std::string last =
        t.rounds == 1 ? tmp : "(SELECT DISTINCT ON (_key) * FROM " + tmp + " ORDER BY _key, _seq DESC)";
    const bool deletes =
        std::any_of(t.events.begin(), t.events.end(), [](const ChangeEvent* e) { return e->op == 'd'; });
    if (deletes) {
      conn_.Exec("DELETE FROM " + Staging(t.table) + " s USING " + last +
                 " l WHERE s._key = l._key AND l._op = 'd'");
    }
    conn_.Exec("INSERT INTO " + Staging(t.table) + " AS stg_" + t.table + " (" + cols + ") SELECT " + cols +
               " FROM " + last + " l WHERE l._op <> 'd' ON CONFLICT (_key) DO UPDATE SET " + sets +
               ", _loaded_at = now()");
  }

  // The model: dimensions, then facts, one loader at a time.
  if (!model_) {
    DropTemps(temps);
    return counts;
  }
  conn_.Exec("SELECT pg_advisory_xact_lock(" + std::to_string(kModelLockId) + ")");
  conn_.Exec(ModelTempTablesStatement());
  if (facts_truncated) conn_.Exec(DeleteOrphanFactsStatement());
  std::vector<std::string> orders;
  for (const TableBatch& t : tables) {
    if (t.events.empty()) continue;
    if (const Dimension* d = DimensionOf(t.table)) {
      for (int r = 1; r <= t.rounds; ++r) {
        for (const auto& sql : Scd2Statements(
                 *d, "(SELECT * FROM " + Temp(t.table) + " WHERE _round = " + std::to_string(r) + ")"))
          conn_.Exec(sql);
      }
    }
    if (t.table == "orders") orders.push_back("SELECT id::bigint FROM " + Temp(t.table));
    if (t.table == "orderdetails") orders.push_back("SELECT order_id::bigint FROM " + Temp(t.table));
  }
  for (const auto& sql : FactStatements(orders)) {
    const auto r = conn_.Exec(sql);
    if (sql.starts_with("INSERT INTO warehouse.fact_sales")) counts.fact_rows += r.Affected();
  }
  std::set<std::string> changed;
  const auto dims = conn_.Exec(std::string("SELECT DISTINCT dim FROM ") + kChangedMembers);
  for (int i = 0; i < dims.rows(); ++i) changed.insert(std::string(dims.Text(i, 0)));
  for (const auto& sql : ReresolveStatements(changed)) conn_.Exec(sql);
  DropTemps(temps);
  return counts;
}

void WarehouseWriter::DropTemps(const std::vector<std::string>& temps) {
  // Several Apply calls may share one transaction (one per message when isolating a poison message).
  std::string drop = std::string("DROP TABLE IF EXISTS touched_orders, fact_input, ") + kChangedMembers;
  for (const auto& tmp : temps) drop += ", " + tmp;
  conn_.Exec(drop);
}

}  // namespace rainbow::loader
