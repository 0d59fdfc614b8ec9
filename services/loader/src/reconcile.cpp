#include "services/loader/src/reconcile.hpp"

#include <cstdio>
#include <map>

namespace rainbow::loader {
namespace {

std::string One(pg::Connection& conn, const std::string& sql) {
  const auto r = conn.Exec(sql);
  return r.rows() == 1 && !r.IsNull(0, 0) ? std::string(r.Text(0, 0)) : "0";
}

std::map<std::string, std::string> Pairs(pg::Connection& conn, const std::string& sql) {
  std::map<std::string, std::string> out;
  const auto r = conn.Exec(sql);
  for (int i = 0; i < r.rows(); ++i) out[std::string(r.Text(i, 0))] = std::string(r.Text(i, 1));
  return out;
}

}  // namespace

std::string TrimDecimal(std::string v) {
  while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
  if (v.find('.') == std::string::npos) return v.empty() ? "0" : v;
  while (v.back() == '0') v.pop_back();
  if (v.back() == '.') v.pop_back();
  if (v.empty() || v == "-") return "0";
  return v;
}

ReconcileReport Reconcile(pg::Connection& source, pg::Connection& warehouse, const std::string& source_schema,
                          ClickHouseClient* clickhouse) {
  ReconcileReport report;
  const auto add = [&](std::string name, std::string s, std::string w) {
    const bool ok = s == w;
    report.matches = report.matches && ok;
    report.checks.push_back({std::move(name), std::move(s), std::move(w), ok});
  };
  // Row counts of every mirrored table that the source has.
  const auto staged = warehouse.Exec(
      "SELECT substr(table_name, 5) FROM information_schema.tables WHERE table_schema = 'warehouse' "
      "AND table_name LIKE 'stg\\_%' ORDER BY 1");
  for (int i = 0; i < staged.rows(); ++i) {
    const std::string table(staged.Text(i, 0));
    const auto exists = source.Exec("SELECT to_regclass($1) IS NOT NULL", {source_schema + "." + table});
    if (exists.Text(0, 0) != "t") continue;
    add("rows " + table, One(source, "SELECT count(*) FROM " + source_schema + "." + table),
        One(warehouse, "SELECT count(*) FROM warehouse.stg_" + table));
  }
  add("fact rows (order lines)", One(source, "SELECT count(*) FROM " + source_schema + ".orderdetails"),
      One(warehouse, "SELECT count(*) FROM warehouse.fact_sales"));
  report.source_sales =
      One(source, "SELECT coalesce(sum(quantity * price), 0) FROM " + source_schema + ".orderdetails");
  report.warehouse_sales =
      One(warehouse, "SELECT coalesce(sum(extended_sales_amount), 0) FROM warehouse.fact_sales");
  add("sales total", report.source_sales, report.warehouse_sales);
  // Per day (UTC order date): each day on either side, compared.
  auto s = Pairs(source, "SELECT (o.created_at AT TIME ZONE 'UTC')::date, sum(l.quantity * l.price) FROM " +
                             source_schema + ".orderdetails l JOIN " + source_schema +
                             ".orders o ON o.id = l.order_id GROUP BY 1 ORDER BY 1");
  auto w = Pairs(
      warehouse,
      "SELECT d.date, sum(f.extended_sales_amount) FROM warehouse.fact_sales f JOIN warehouse.dim_dates d "
      "USING (date_key) GROUP BY 1 ORDER BY 1");
  std::map<std::string, std::pair<std::string, std::string>> days;
  for (const auto& [d, v] : s) days[d].first = v;
  for (const auto& [d, v] : w) days[d].second = v;
  for (const auto& [d, v] : days)
    add("sales " + d, v.first.empty() ? "0" : v.first, v.second.empty() ? "0" : v.second);
  if (clickhouse != nullptr) {
    const auto ch = [&](const std::string& sql) { return TrimDecimal(clickhouse->Query(sql)); };
    for (const char* t : {"orders", "orderdetails"})
      add(std::string("clickhouse rows ") + t, One(source, "SELECT count(*) FROM " + source_schema + "." + t),
          ch(std::string("SELECT count() FROM stg_") + t + " FINAL WHERE is_deleted = 0"));
    add("clickhouse fact rows", One(source, "SELECT count(*) FROM " + source_schema + ".orderdetails"),
        ch("SELECT count() FROM fact_sales FINAL WHERE is_deleted = 0"));
    add("clickhouse sales total", TrimDecimal(report.source_sales),
        ch("SELECT sum(extended_sales_amount) FROM fact_sales FINAL WHERE is_deleted = 0"));
    for (const char* t : {"dim_customers", "dim_payments", "dim_sellers", "dim_promotions", "dim_products"}) {
      add(std::string("clickhouse ") + t, One(warehouse, std::string("SELECT count(*) FROM warehouse.") + t),
          ch(std::string("SELECT count() FROM ") + t + " FINAL"));
      add(std::string("clickhouse ") + t + " current",
          One(warehouse, std::string("SELECT count(*) FROM warehouse.") + t + " WHERE is_current"),
          ch(std::string("SELECT count() FROM ") + t + " FINAL WHERE is_current = 1"));
    }
    add("clickhouse dim_dates", One(warehouse, "SELECT count(*) FROM warehouse.dim_dates"),
        ch("SELECT count() FROM dim_dates FINAL"));
  }
  return report;
}

std::string FormatReport(const ReconcileReport& report) {
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line), "%-32s %20s %20s  %s\n", "check", "source", "warehouse", "");
  out += line;
  for (const auto& c : report.checks) {
    std::snprintf(line, sizeof(line), "%-32s %20s %20s  %s\n", c.name.c_str(), c.source.c_str(),
                  c.warehouse.c_str(), c.matches ? "ok" : "DIFFERENT");
    out += line;
  }
  out += report.matches ? "reconcile: zero difference\n" : "reconcile: DIFFERENCES FOUND\n";
  return out;
}

}  // namespace rainbow::loader
