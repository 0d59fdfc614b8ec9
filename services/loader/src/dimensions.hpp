#pragma once

#include <string>
#include <vector>

namespace rainbow::loader {

// One attribute of a dimension: the source column it comes from (same name in the dimension), its
// SQL type there, and whether a change to it opens a new version (SCD type 2) or is written over the
// current one (type 1).
struct DimensionAttribute {
  std::string column;
  std::string sql_type;
  bool tracked = true;
};

// A dimension fed by one source table's staging rows. The table layout itself is in
// migrations/001_warehouse.sql; this is the one place that says what is tracked.
struct Dimension {
  std::string table;          // e.g. "dim_customers"
  std::string source_table;   // e.g. "customers" (staging: stg_customers)
  std::string natural_key;    // e.g. "customer_id" (the source's "id")
  std::string surrogate_key;  // e.g. "customer_key"
  std::vector<DimensionAttribute> attributes;
};

const std::vector<Dimension>& Dimensions();

// The dimension fed by a source table, or nullptr.
const Dimension* DimensionOf(const std::string& source_table);

// A temporary table (dim text, id bigint) of the members whose versions a batch changed in a way facts
// must follow (a new version, an inferred member filled in); created by ModelTempTablesStatement.
inline constexpr const char* kChangedMembers = "loader_changed_members";
std::string ModelTempTablesStatement();

// The statements applying one round of changes to `d`: `changes` names a relation holding at most one
// change per key (columns of the staging table, all text, plus _op and _source_ts), applied in order:
//   1. an inferred current row gets the member's real attributes in place;
//   2. a current row whose tracked attributes differ is closed at the change's commit time;
//   3. a key without a current row gets one (valid from 1900-01-01 for a member's first version,
//      else from the change's commit time);
//   4. untracked attributes are written over the current row;
//   5. a delete closes the current row and marks it deleted.
std::vector<std::string> Scd2Statements(const Dimension& d, const std::string& changes);

// Inserts an inferred member for every natural key in `keys_sql` (a query yielding one bigint column)
// that has no row at all in `d`. Concurrent loaders may race here: the current-row unique index and
// ON CONFLICT make the loser do nothing.
std::string InferredMembersStatement(const Dimension& d, const std::string& keys_sql);

}  // namespace rainbow::loader
