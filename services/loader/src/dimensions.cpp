#include "services/loader/src/dimensions.hpp"

#include <stdexcept>

namespace rainbow::loader {
namespace {

constexpr const char* kFirstValidFrom = "'1900-01-01 00:00:00+00'";

std::string Cast(const std::string& rel, const DimensionAttribute& a) {
  return rel + "." + a.column + "::" + a.sql_type;
}

// "d.a IS DISTINCT FROM c.a::t OR ..." over the tracked (or untracked) attributes; "false" if none.
std::string Differs(const Dimension& d, bool tracked) {
  std::string out;
  for (const auto& a : d.attributes) {
    if (a.tracked != tracked) continue;
    if (!out.empty()) out += " OR ";
    out += "d." + a.column + " IS DISTINCT FROM " + Cast("c", a);
  }
  return out.empty() ? "false" : "(" + out + ")";
}

std::string Assignments(const Dimension& d, bool only_untracked) {
  std::string out;
  for (const auto& a : d.attributes) {
    if (only_untracked && a.tracked) continue;
    if (!out.empty()) out += ", ";
    out += a.column + " = " + Cast("c", a);
  }
  return out;
}

}  // namespace

const std::vector<Dimension>& Dimensions() {
  static const std::vector<Dimension> dims = {
      {"dim_customers",
       "customers",
       "customer_id",
       "customer_key",
       {{"first_name", "text"}, {"last_name", "text"}, {"email", "text"}}},
      {"dim_payments", "payments", "payment_id", "payment_key", {{"name", "text"}, {"type", "text"}}},
      {"dim_sellers",
       "sellers",
       "seller_id",
       "seller_key",
       {{"name", "text"}, {"is_best_store", "boolean"}, {"link", "text", false}}},
      {"dim_promotions",
       "promotions",
       "promotion_id",
       "promotion_key",
       {{"name", "text"},
        {"type", "text"},
        {"price_treatment", "numeric(12,2)"},
        {"coupon_type", "text"},
        {"is_global", "boolean"},
        {"promo_begin", "timestamptz"},
        {"promo_end", "timestamptz"}}},
      {"dim_products",
       "products",
       "product_id",
       "product_key",
       {{"name", "text"},
        {"price", "numeric(12,2)"},
        {"category_id", "bigint"},
        {"seller_id", "bigint"},
        {"brand_id", "bigint"},
        {"promotion_id", "bigint"},
        // Counters and ratings move all the time; a new version for each would drown the history.
        {"original_price", "numeric(12,2)", false},
        {"rating_average", "numeric(3,2)", false},
        {"review_count", "integer", false},
        {"sold_count", "integer", false}}},
  };
  return dims;
}

const Dimension* DimensionOf(const std::string& source_table) {
  for (const auto& d : Dimensions()) {
    if (d.source_table == source_table) return &d;
  }
  return nullptr;
}

std::vector<std::string> Scd2Statements(const Dimension& d, const std::string& changes) {
  const std::string t = "warehouse." + d.table;
  const std::string nk = d.natural_key;
  const std::string match = "d." + nk + " = c.id::bigint AND d.is_current";
  std::string attr_list, attr_values;
  for (const auto& a : d.attributes) {
    attr_list += ", " + a.column;
    attr_values += ", " + Cast("c", a);
  }
  std::vector<std::string> out;
  // Members whose facts must be resolved again are noted in loader_changed_members (see header).
  const auto noting = [&](const std::string& update) {
    return "WITH changed AS (" + update + " RETURNING d." + nk + ") INSERT INTO " + kChangedMembers +
           " SELECT '" + d.table + "', " + nk + " FROM changed";
  };
  // 1. The member arrived: fill in the inferred row in place (its key stays; facts may now learn more
  //    from it, e.g. a product's seller).
  out.push_back(noting("UPDATE " + t + " d SET " + Assignments(d, false) + ", is_inferred = false FROM " +
                       changes + " c WHERE " + match + " AND d.is_inferred AND c._op <> 'd'"));
  // 2. A tracked attribute changed: close the current version at the change's commit time.
  out.push_back(noting("UPDATE " + t +
                       " d SET valid_to = greatest(c._source_ts, d.valid_from), is_current = false FROM " +
                       changes + " c WHERE " + match + " AND c._op <> 'd' AND " + Differs(d, true)));
  // 3. No current version (new member, or the one just closed): open one. A version that follows
  //    history (not a first one) is noted: facts after it must move to it (a member deleted and back).
  out.push_back("WITH opened AS (INSERT INTO " + t + " (" + nk + attr_list +
                ", valid_from, valid_to, is_current) SELECT c.id::bigint" + attr_values +
                ", CASE WHEN EXISTS (SELECT 1 FROM " + t + " h WHERE h." + nk +
                " = c.id::bigint) THEN c._source_ts ELSE " + kFirstValidFrom +
                " END, '2100-01-01', true FROM " + changes +
                " c WHERE c._op <> 'd' AND NOT EXISTS (SELECT 1 FROM " + t + " d WHERE " + match +
                ") RETURNING " + nk + ", valid_from) INSERT INTO " + kChangedMembers + " SELECT '" + d.table +
                "', " + nk + " FROM opened WHERE valid_from > " + kFirstValidFrom);
  // 4. Untracked attributes: written over the current version.
  const std::string untracked = Assignments(d, true);
  if (!untracked.empty()) {
    out.push_back("UPDATE " + t + " d SET " + untracked + " FROM " + changes + " c WHERE " + match +
                  " AND c._op <> 'd' AND " + Differs(d, false));
  }
  // 5. Deleted in the source: the current version ends, marked deleted.
  out.push_back("UPDATE " + t +
                " d SET valid_to = greatest(c._source_ts, d.valid_from), is_current = false, " +
                "is_deleted = true FROM " + changes + " c WHERE " + match + " AND c._op = 'd'");
  return out;
}

std::string ModelTempTablesStatement() {
  return std::string("CREATE TEMP TABLE IF NOT EXISTS ") + kChangedMembers +
         " (dim text NOT NULL, id bigint NOT NULL) ON COMMIT DROP";
}

std::string InferredMembersStatement(const Dimension& d, const std::string& keys_sql) {
  const std::string t = "warehouse." + d.table;
  return "INSERT INTO " + t + " (" + d.natural_key + ", valid_from, valid_to, is_current, is_inferred) " +
         "SELECT k.id, " + kFirstValidFrom + ", '2100-01-01', true, true FROM (" + keys_sql +
         ") k(id) WHERE k.id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + t + " h WHERE h." + d.natural_key +
         " = k.id) ON CONFLICT (" + d.natural_key + ") WHERE is_current DO NOTHING";
}

}  // namespace rainbow::loader
