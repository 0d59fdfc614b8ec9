#pragma once

#include <string>
#include <vector>

#include "common/pg/connection.hpp"
#include "services/loader/src/clickhouse_client.hpp"

namespace rainbow::loader {

struct ReconcileCheck {
  std::string name;
  std::string source;
  std::string warehouse;
  bool matches = false;
};

struct ReconcileReport {
  std::vector<ReconcileCheck> checks;
  std::string source_sales;
  std::string warehouse_sales;
  bool matches = true;
};

// The seed's data test and more: per source table with a staging mirror, row counts; order lines vs
// fact rows; sum(quantity * price) over the source lines vs sum(extended_sales_amount) in fact_sales,
// in total and per day (UTC order date). Figures are compared exactly (numeric as text).
// With a ClickHouse client, the serving layer too (read with FINAL, deleted rows excluded): order and
// line mirrors and fact rows against the source's counts, total sales against the source's, and
// every dimension's rows (all SCD2 versions) and dim_dates against the warehouse's ("source" column:
// the warehouse's figure for those). Decimals compared as numbers (trailing zeros dropped).
ReconcileReport Reconcile(pg::Connection& source, pg::Connection& warehouse, const std::string& source_schema,
                          ClickHouseClient* clickhouse = nullptr);

// "37.500000" -> "37.5", "100.00" -> "100": ClickHouse prints a Decimal with its scale.
std::string TrimDecimal(std::string v);

// The report as a table for a terminal (mismatches marked), one line per check.
std::string FormatReport(const ReconcileReport& report);

}  // namespace rainbow::loader
