#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "services/loader/src/change_event.hpp"

namespace rainbow::loader {

// The transaction-level advisory lock that serializes the model step (dimensions and facts) across
// loaders and backfills; any constant unique to it.
inline constexpr int64_t kModelLockId = 0x7261696e626f77;  // "rainbow"

// Rows written by one Apply, by table and operation, for metrics.
struct ApplyCounts {
  std::map<std::pair<std::string, char>, int64_t> events;  // (table, op) -> events
  int64_t fact_rows = 0;                                   // fact rows inserted or updated
};

// Writes change events into the warehouse inside the caller's open transaction, set-based: per source
// table the batch is COPYed into a temporary table, then merged into staging (the last event per key
// wins; deletes remove the row; a truncate empties the table); the dimensions fed by the table take
// every version in order (SCD type 2, a round per version of a key); then fact_sales is brought up to
// date for the orders and members the batch touched. The model step runs under a transaction-level
// advisory lock, so concurrent loaders apply it one at a time and each sees the other's committed
// staging rows (an order line and its header loaded by two loaders at once still meet).
//
// Owns a cache of staging columns; one thread at a time, like the connection it uses.
class WarehouseWriter {
 public:
  // model: false writes staging only (no dimensions, dim_dates or facts).
  explicit WarehouseWriter(pg::Connection& conn, bool model = true) : conn_(conn), model_(model) {}

  // Throws PgError; on any error the caller must roll back (and the column cache is forgotten).
  ApplyCounts Apply(const std::vector<const ChangeEvent*>& events);
  // To call when the transaction rolls back for another reason: a column added in it is gone again.
  void Forget() { columns_loaded_ = false; }

 private:
  ApplyCounts ApplyLocked(const std::vector<const ChangeEvent*>& events);
  // Creates the staging table and adds columns it lacks (a column added in the source).
  void EnsureStaging(const std::string& table, const std::set<std::string>& columns);
  void LoadColumns();
  void DropTemps(const std::vector<std::string>& temps);

  pg::Connection& conn_;
  const bool model_;
  bool columns_loaded_ = false;
  std::map<std::string, std::set<std::string>> columns_;  // staging table -> columns
};

// "YYYY-MM-DD HH:MM:SS.mmm+00" for epoch milliseconds (what PostgreSQL reads as timestamptz).
std::string IsoUtc(int64_t ts_ms);

// COPY text format escaping of one value (backslash, tab, newline, carriage return).
void AppendCopyText(std::string& out, const std::string& value);

}  // namespace rainbow::loader
