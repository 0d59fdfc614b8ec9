#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/pg/connection.hpp"

namespace rainbow::order {

struct SeedReport {
  std::map<std::string, int64_t> rows;  // table -> rows copied
  std::vector<std::string> skipped;     // why a part was not loaded
};

// The sample tables in load order (foreign keys first). Each is <data_dir>/<table>.csv with a header
// row naming the columns.
const std::vector<std::string>& SampleTables();

// Loads the sample CSVs (if data_dir is set) and the product feed (if catalog is set) in one
// transaction with COPY, then moves the id sequences past the loaded ids. Sample data is skipped
// when customers already exist unless `replace` (which empties orders and sample tables first); the
// feed is skipped when product_catalog is not empty unless `replace`. Throws on any error (nothing
// is kept then).
SeedReport LoadSeedData(pg::Connection& conn, const std::string& data_dir, const std::string& catalog,
                        bool replace);

// The CSV header of products.csv mapped to product_catalog's columns (camelCase -> snake_case).
std::string CatalogColumn(const std::string& feed_header);

}  // namespace rainbow::order
