#pragma once

#include <string>
#include <vector>

#include "common/pg/connection.hpp"

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
ReconcileReport Reconcile(pg::Connection& source, pg::Connection& warehouse,
                          const std::string& source_schema);

// The report as a table for a terminal (mismatches marked), one line per check.
std::string FormatReport(const ReconcileReport& report);

}  // namespace rainbow::loader
