#include "services/order-api/src/seed_loader.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace rainbow::order {
namespace {

// Column names come from files: only plain identifiers reach the SQL text.
std::string Identifier(const std::string& name) {
  if (name.empty() || name.size() > 63) throw std::runtime_error("bad column name '" + name + "'");
  for (char c : name) {
    if (!std::islower(static_cast<unsigned char>(c)) && !std::isdigit(static_cast<unsigned char>(c)) &&
        c != '_') {
      throw std::runtime_error("bad column name '" + name + "'");
    }
  }
  return name;
}

std::vector<std::string> SplitHeader(std::string line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (!line.empty() && static_cast<unsigned char>(line[0]) == 0xEF) line = line.substr(3);  // UTF-8 BOM
  std::vector<std::string> cols;
  std::stringstream s(line);
  std::string col;
  while (std::getline(s, col, ',')) cols.push_back(col);
  return cols;
}

// COPY <table> (<columns from the header>) FROM STDIN as CSV, streaming the file in 256 KiB chunks.
int64_t CopyCsv(pg::Connection& conn, const std::string& table, const std::string& path,
                std::string (*map_column)(const std::string&)) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::string header;
  std::getline(in, header);
  std::string columns;
  for (const auto& c : SplitHeader(header))
    columns += (columns.empty() ? "" : ", ") + Identifier(map_column(c));
  if (columns.empty()) throw std::runtime_error(path + ": no header row");
  const std::string sql = "COPY " + table + " (" + columns + ") FROM STDIN WITH (FORMAT csv)";
  try {
    return conn.CopyFrom(sql, [&](std::string& chunk) {
      chunk.resize(256 * 1024);
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      chunk.resize(static_cast<size_t>(in.gcount()));
      return !chunk.empty();
    });
  } catch (const pg::PgError& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

std::string Same(const std::string& c) { return c; }

}  // namespace

const std::vector<std::string>& SampleTables() {
  static const std::vector<std::string> kTables = {"categories", "brands",    "sellers",  "payments",
                                                   "promotions", "customers", "products", "inventories"};
  return kTables;
}

std::string CatalogColumn(const std::string& feed_header) {
  if (feed_header == "brandcode") return "brand_code";
  std::string out;
  for (char c : feed_header) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

SeedReport LoadSeedData(pg::Connection& conn, const std::string& data_dir, const std::string& catalog,
                        bool replace) {
  SeedReport report;
  pg::Transaction tx(conn);
  if (!data_dir.empty()) {
    const bool present = conn.Exec("SELECT EXISTS (SELECT 1 FROM rainbow.customers)").Text(0, 0) == "t";
    if (present && !replace) {
      report.skipped.push_back("sample data: rainbow.customers is not empty (use --replace)");
    } else {
      if (present) {
        conn.Exec(
            "TRUNCATE rainbow.idempotency_keys, rainbow.orderdetails, rainbow.orders, rainbow.inventories, "
            "rainbow.products, rainbow.customers, rainbow.promotions, rainbow.payments, rainbow.sellers, "
            "rainbow.brands, rainbow.categories");
      }
      for (const auto& table : SampleTables()) {
        report.rows[table] = CopyCsv(conn, "rainbow." + table, data_dir + "/" + table + ".csv", Same);
        if (table != "inventories") {
          conn.Exec("SELECT setval(pg_get_serial_sequence('rainbow." + table + "', 'id'), " +
                    "greatest(coalesce(max(id), 0), 1)) FROM rainbow." + table);
        }
      }
    }
  }
  if (!catalog.empty()) {
    const bool present = conn.Exec("SELECT EXISTS (SELECT 1 FROM rainbow.product_catalog)").Text(0, 0) == "t";
    if (present && !replace) {
      report.skipped.push_back("catalog: rainbow.product_catalog is not empty (use --replace)");
    } else {
      if (present) conn.Exec("TRUNCATE rainbow.product_catalog");
      report.rows["product_catalog"] = CopyCsv(conn, "rainbow.product_catalog", catalog, CatalogColumn);
    }
  }
  tx.Commit();
  return report;
}

}  // namespace rainbow::order
