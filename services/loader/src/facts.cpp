#include "services/loader/src/facts.hpp"

#include "services/loader/src/dimensions.hpp"

namespace rainbow::loader {
namespace {

// The version of `dim` valid at `ts` for natural id `id`: one backward scan of (nk, valid_from).
std::string VersionAsOf(const std::string& dim, const std::string& nk, const std::string& column,
                        const std::string& id, const std::string& ts) {
  // Two versions opened in the same millisecond: the later one (the higher surrogate key) wins.
  const std::string key = dim.substr(4, dim.size() - 5) + "_key";  // dim_products -> product_key
  return "(SELECT d." + column + " FROM warehouse." + dim + " d WHERE d." + nk + " = " + id +
         " AND d.valid_from <= " + ts + " ORDER BY d.valid_from DESC, d." + key + " DESC LIMIT 1)";
}

std::string Changed(const std::string& dim) {
  return std::string("(SELECT id FROM ") + kChangedMembers + " WHERE dim = '" + dim + "')";
}

}  // namespace

std::vector<std::string> FactStatements(const std::vector<std::string>& orders) {
  std::vector<std::string> out;
  if (orders.empty()) return out;
  std::string all;
  for (const auto& q : orders) all += (all.empty() ? "" : " UNION ") + q;
  out.push_back("CREATE TEMP TABLE touched_orders ON COMMIT DROP AS SELECT DISTINCT id FROM (" + all +
                ") t(id) WHERE id IS NOT NULL");
  out.push_back(
      "CREATE TEMP TABLE fact_input ON COMMIT DROP AS SELECT l.order_id::bigint AS order_id, "
      "l.line_no::integer AS line_no, o.created_at::timestamptz AS order_ts, l.product_id::bigint AS "
      "product_id, "
      "o.customer_id::bigint AS customer_id, o.payment_id::bigint AS payment_id, "
      "l.promotion_id::bigint AS promotion_id, l.quantity::integer AS quantity, l.price::numeric(12,2) AS "
      "price, "
      "coalesce(l.discount_unit_price::numeric(12,2), 0) AS discount "
      "FROM warehouse.stg_orderdetails l JOIN warehouse.stg_orders o ON o.id = l.order_id "
      "WHERE l.order_id IN (SELECT id::text FROM touched_orders)");
  out.push_back(
      "DELETE FROM warehouse.fact_sales f WHERE f.order_id IN (SELECT id FROM touched_orders) AND NOT EXISTS "
      "(SELECT 1 FROM fact_input i WHERE i.order_id = f.order_id AND i.line_no = f.line_no)");
  out.push_back(
      "INSERT INTO warehouse.dim_dates SELECT to_char(d, 'YYYYMMDD')::integer, d, extract(day FROM d), "
      "extract(month FROM d), trim(to_char(d, 'Month')), extract(year FROM d), extract(quarter FROM d), "
      "extract(week FROM d), extract(isodow FROM d), trim(to_char(d, 'Day')), extract(isodow FROM d) >= 6 "
      "FROM (SELECT DISTINCT (order_ts AT TIME ZONE 'UTC')::date FROM fact_input) x(d) "
      "ON CONFLICT (date_key) DO NOTHING");
  for (const char* source : {"customers", "payments", "products", "promotions"}) {
    const Dimension* d = DimensionOf(source);
    const std::string col = std::string(source).substr(0, std::string(source).size() - 1) + "_id";
    out.push_back(InferredMembersStatement(*d, "SELECT DISTINCT " + col + " FROM fact_input"));
  }
  // The sellers of the products the lines reference (any version), so every fact has a seller key.
  out.push_back(
      InferredMembersStatement(*DimensionOf("sellers"),
                               "SELECT DISTINCT seller_id FROM warehouse.dim_products WHERE product_id IN "
                               "(SELECT product_id FROM fact_input)"));
  out.push_back(
      "INSERT INTO warehouse.fact_sales (order_id, line_no, order_ts, date_key, product_id, customer_id, "
      "payment_id, promotion_id, seller_id, product_key, customer_key, payment_key, promotion_key, "
      "seller_key, "
      "sales_quantity, regular_unit_price, discount_unit_price, net_unit_price, extended_discount_amount, "
      "extended_sales_amount) "
      "SELECT i.order_id, i.line_no, i.order_ts, to_char(i.order_ts AT TIME ZONE 'UTC', "
      "'YYYYMMDD')::integer, "
      "i.product_id, i.customer_id, i.payment_id, i.promotion_id, p.seller_id, p.product_key, " +
      VersionAsOf("dim_customers", "customer_id", "customer_key", "i.customer_id", "i.order_ts") + ", " +
      VersionAsOf("dim_payments", "payment_id", "payment_key", "i.payment_id", "i.order_ts") + ", " +
      VersionAsOf("dim_promotions", "promotion_id", "promotion_key", "i.promotion_id", "i.order_ts") + ", " +
      VersionAsOf("dim_sellers", "seller_id", "seller_key", "p.seller_id", "i.order_ts") +
      ", i.quantity, i.price, i.discount, i.price - i.discount, i.quantity * i.discount, i.quantity * "
      "i.price "
      "FROM fact_input i LEFT JOIN LATERAL (SELECT d.product_key, d.seller_id FROM warehouse.dim_products d "
      "WHERE d.product_id = i.product_id AND d.valid_from <= i.order_ts ORDER BY d.valid_from DESC, "
      "d.product_key DESC "
      "LIMIT 1) "
      "p ON true "
      "ON CONFLICT (order_id, line_no) DO UPDATE SET order_ts = EXCLUDED.order_ts, date_key = "
      "EXCLUDED.date_key, "
      "product_id = EXCLUDED.product_id, customer_id = EXCLUDED.customer_id, payment_id = "
      "EXCLUDED.payment_id, "
      "promotion_id = EXCLUDED.promotion_id, seller_id = EXCLUDED.seller_id, product_key = "
      "EXCLUDED.product_key, "
      "customer_key = EXCLUDED.customer_key, payment_key = EXCLUDED.payment_key, "
      "promotion_key = EXCLUDED.promotion_key, seller_key = EXCLUDED.seller_key, "
      "sales_quantity = EXCLUDED.sales_quantity, regular_unit_price = EXCLUDED.regular_unit_price, "
      "discount_unit_price = EXCLUDED.discount_unit_price, net_unit_price = EXCLUDED.net_unit_price, "
      "extended_discount_amount = EXCLUDED.extended_discount_amount, "
      "extended_sales_amount = EXCLUDED.extended_sales_amount, loaded_at = now()");
  return out;
}

std::vector<std::string> ReresolveStatements(const std::set<std::string>& changed_dims) {
  std::vector<std::string> out;
  const auto key_of = [](const std::string& dim, const std::string& nk, const std::string& key) {
    return VersionAsOf(dim, nk, key, "f." + nk, "f.order_ts");
  };
  if (changed_dims.contains("dim_products")) {
    // The product version, and with it the seller.
    out.push_back("UPDATE warehouse.fact_sales f SET product_key = " +
                  key_of("dim_products", "product_id", "product_key") +
                  ", seller_id = " + key_of("dim_products", "product_id", "seller_id") +
                  " WHERE f.product_id IN " + Changed("dim_products"));
    out.push_back(InferredMembersStatement(
        *DimensionOf("sellers"),
        "SELECT DISTINCT seller_id FROM warehouse.dim_products WHERE product_id IN " +
            Changed("dim_products")));
    out.push_back("UPDATE warehouse.fact_sales f SET seller_key = " +
                  VersionAsOf("dim_sellers", "seller_id", "seller_key", "f.seller_id", "f.order_ts") +
                  " WHERE f.product_id IN " + Changed("dim_products"));
  }
  for (const char* dim : {"dim_customers", "dim_payments", "dim_promotions", "dim_sellers"}) {
    if (!changed_dims.contains(dim)) continue;
    const std::string base =
        std::string(dim).substr(4, std::string(dim).size() - 5);  // dim_customers -> customer
    out.push_back("UPDATE warehouse.fact_sales f SET " + base + "_key = " +
                  key_of(dim, base + "_id", base + "_key") + " WHERE f." + base + "_id IN " + Changed(dim));
  }
  return out;
}

std::string DeleteOrphanFactsStatement() {
  return "DELETE FROM warehouse.fact_sales f WHERE NOT EXISTS (SELECT 1 FROM warehouse.stg_orderdetails l "
         "JOIN "
         "warehouse.stg_orders o ON o.id = l.order_id WHERE l.order_id = f.order_id::text AND "
         "l.line_no = f.line_no::text)";
}

}  // namespace rainbow::loader
