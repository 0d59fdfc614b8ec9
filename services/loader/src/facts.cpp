#include "services/loader/src/facts.hpp"

#include "services/loader/src/dimensions.hpp"

namespace rainbow::loader {
namespace {

std::string UnionOf(const std::vector<std::string>& queries) {
  std::string out;
  for (const auto& q : queries) {
    if (!out.empty()) out += " UNION ";
    out += q;
  }
  return out;
}

// The key of `dim` for natural id `id_expr` as of f.order_ts.
std::string KeyAsOf(const std::string& dim, const std::string& nk, const std::string& key,
                    const std::string& id_expr) {
  return "(SELECT d." + key + " FROM warehouse." + dim + " d WHERE d." + nk + " = " + id_expr +
         " ORDER BY (d.valid_from <= f.order_ts AND f.order_ts < d.valid_to) DESC, d.valid_from DESC LIMIT "
         "1)";
}

}  // namespace

std::vector<std::string> FactStatements(const TouchedIds& touched) {
  std::vector<std::string> out;
  const std::string orders = UnionOf(touched.orders);
  if (!orders.empty()) {
    out.push_back("CREATE TEMP TABLE touched_orders ON COMMIT DROP AS SELECT DISTINCT id FROM (" + orders +
                  ") t(id) WHERE id IS NOT NULL");
    // The lines to build: in staging, with their header.
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
        "DELETE FROM warehouse.fact_sales f WHERE f.order_id IN (SELECT id FROM touched_orders) AND NOT "
        "EXISTS "
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
    out.push_back(
        "INSERT INTO warehouse.fact_sales (order_id, line_no, order_ts, date_key, product_id, customer_id, "
        "payment_id, promotion_id, sales_quantity, regular_unit_price, discount_unit_price, net_unit_price, "
        "extended_discount_amount, extended_sales_amount) "
        "SELECT order_id, line_no, order_ts, to_char(order_ts AT TIME ZONE 'UTC', 'YYYYMMDD')::integer, "
        "product_id, "
        "customer_id, payment_id, promotion_id, quantity, price, discount, price - discount, quantity * "
        "discount, "
        "quantity * price FROM fact_input ON CONFLICT (order_id, line_no) DO UPDATE SET order_ts = "
        "EXCLUDED.order_ts, "
        "date_key = EXCLUDED.date_key, product_id = EXCLUDED.product_id, customer_id = EXCLUDED.customer_id, "
        "payment_id = EXCLUDED.payment_id, promotion_id = EXCLUDED.promotion_id, "
        "sales_quantity = EXCLUDED.sales_quantity, regular_unit_price = EXCLUDED.regular_unit_price, "
        "discount_unit_price = EXCLUDED.discount_unit_price, net_unit_price = EXCLUDED.net_unit_price, "
        "extended_discount_amount = EXCLUDED.extended_discount_amount, "
        "extended_sales_amount = EXCLUDED.extended_sales_amount, loaded_at = now()");
  }
  // Which facts need their keys resolved again.
  std::vector<std::string> where;
  if (!orders.empty()) where.push_back("f.order_id IN (SELECT id FROM touched_orders)");
  const auto add = [&](const std::string& column, const std::string& ids) {
    if (!ids.empty()) where.push_back("f." + column + " IN (" + ids + ")");
  };
  add("customer_id", touched.customers);
  add("payment_id", touched.payments);
  add("product_id", touched.products);
  add("promotion_id", touched.promotions);
  add("seller_id", touched.sellers);
  if (where.empty()) return out;
  std::string cond;
  for (const auto& w : where) cond += (cond.empty() ? "" : " OR ") + w;
  // The seller comes with the product version valid at the order's time, so products go first.
  out.push_back(
      "UPDATE warehouse.fact_sales f SET product_key = " +
      KeyAsOf("dim_products", "product_id", "product_key", "f.product_id") +
      ", customer_key = " + KeyAsOf("dim_customers", "customer_id", "customer_key", "f.customer_id") +
      ", payment_key = " + KeyAsOf("dim_payments", "payment_id", "payment_key", "f.payment_id") +
      ", promotion_key = " + KeyAsOf("dim_promotions", "promotion_id", "promotion_key", "f.promotion_id") +
      " WHERE " + cond);
  out.push_back(
      "UPDATE warehouse.fact_sales f SET seller_id = p.seller_id FROM warehouse.dim_products p "
      "WHERE p.product_key = f.product_key AND f.seller_id IS DISTINCT FROM p.seller_id AND (" +
      cond + ")");
  out.push_back("UPDATE warehouse.fact_sales f SET seller_key = " +
                KeyAsOf("dim_sellers", "seller_id", "seller_key", "f.seller_id") +
                " WHERE f.seller_id IS NOT NULL AND (" + cond + ")");
  return out;
}

std::string DeleteAllFactsStatement() { return "DELETE FROM warehouse.fact_sales"; }

}  // namespace rainbow::loader
