#include "services/order-api/src/order_store.hpp"

#include <ctime>

#include "common/logging/log.hpp"

namespace rainbow::order {
namespace {

// The columns every order query returns, one row per line (an order without lines has NULL line
// columns): 0 id, 1 customer_id, 2 payment_id, 3 status, 4 created_at, 5 line_no, 6 product_id,
// 7 quantity, 8 price, 9 promotion_id, 10 discount_unit_price.
// created_at travels as epoch microseconds (formatted as RFC 3339 in C++): exact and free of ':'
// (which pgbench, running the same statement in the benchmark, would read as a variable).
constexpr const char* kCreatedAtUtc = "(extract(epoch FROM o.created_at) * 1000000)::bigint";

// The order row is written only for a customer and a payment that exist and are not soft-deleted
// (deleted_at set): otherwise nothing is written and the statement returns no row, which
// ExplainMissingParty turns into a field error. Prices come from products; the discount from the
// product's own active promotion, else the active global promotion with the lowest id. 'Percentage':
// price_treatment % of the price (rounded to cents); 'Fixed Amount': price_treatment off each unit, never
// more than the price.
std::string CreateSql(bool with_key) {
  std::string sql = R"(
WITH o AS (
  INSERT INTO rainbow.orders (customer_id, payment_id)
  SELECT $1::bigint, $2::bigint
  WHERE EXISTS (SELECT 1 FROM rainbow.customers c WHERE c.id = $1::bigint AND c.deleted_at IS NULL)
    AND EXISTS (SELECT 1 FROM rainbow.payments pm WHERE pm.id = $2::bigint AND pm.deleted_at IS NULL)
  RETURNING id, customer_id, payment_id, status, created_at),
input AS (
  SELECT l.product_id, l.quantity, l.line_no::int AS line_no
  FROM unnest($3::bigint[], $4::int[]) WITH ORDINALITY AS l(product_id, quantity, line_no)),
priced AS (
  SELECT i.line_no, i.product_id, i.quantity, p.price, promo.id AS promotion_id,
         CASE promo.coupon_type
           WHEN 'Percentage' THEN round(p.price * promo.price_treatment / 100, 2)
           WHEN 'Fixed Amount' THEN least(promo.price_treatment, p.price)
           ELSE 0 END AS discount
  FROM input i
  LEFT JOIN rainbow.products p ON p.id = i.product_id AND p.deleted_at IS NULL
  LEFT JOIN LATERAL (
    SELECT pr.id, pr.coupon_type, pr.price_treatment FROM rainbow.promotions pr
    WHERE pr.deleted_at IS NULL AND now() >= pr.promo_begin AND now() < pr.promo_end
      AND (pr.id = p.promotion_id OR pr.is_global)
    ORDER BY (pr.id = p.promotion_id) DESC, pr.id
    LIMIT 1) promo ON p.id IS NOT NULL),
lines AS (
  INSERT INTO rainbow.orderdetails
    (order_id, line_no, product_id, quantity, price, promotion_id, discount_unit_price)
  SELECT o.id, pr.line_no, pr.product_id, pr.quantity, pr.price, pr.promotion_id, coalesce(pr.discount, 0)
  FROM o, priced pr
  RETURNING line_no, product_id, quantity, price, promotion_id, discount_unit_price))";
  if (with_key) {
    sql += R"(,
ik AS (
  INSERT INTO rainbow.idempotency_keys (key, request_fingerprint, order_id)
  SELECT $5, $6, o.id FROM o))";
  }
  sql += R"(
SELECT o.id, o.customer_id, o.payment_id, o.status, )";
  sql += kCreatedAtUtc;
  sql += R"(, l.line_no, l.product_id, l.quantity, l.price, l.promotion_id, l.discount_unit_price
FROM o, lines l ORDER BY l.line_no)";
  return sql;
}

std::string SelectOrdersSql(const std::string& where_orders) {
  return std::string("WITH page AS (SELECT * FROM rainbow.orders o WHERE ") + where_orders +
         R"()
SELECT o.id, o.customer_id, o.payment_id, o.status, )" +
         kCreatedAtUtc +
         R"(, d.line_no, d.product_id, d.quantity, d.price, d.promotion_id, d.discount_unit_price
FROM page o LEFT JOIN rainbow.orderdetails d ON d.order_id = o.id
ORDER BY o.id, d.line_no)";
}

constexpr const char* kCreate = "order_create";
constexpr const char* kCreateKeyed = "order_create_keyed";
constexpr const char* kGet = "order_get";
// A replay returns the order its key created even if it was soft-deleted since.
constexpr const char* kGetForReplay = "order_get_for_replay";
constexpr const char* kList = "order_list";
constexpr const char* kListByCustomer = "order_list_by_customer";
constexpr const char* kFindKey = "idempotency_find";
constexpr const char* kMissingProducts = "order_missing_products";
constexpr const char* kActiveParties = "order_active_parties";

std::string IntArray(const std::vector<LineInput>& lines, bool products) {
  std::string out = "{";
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += ",";
    out += std::to_string(products ? lines[i].product_id : lines[i].quantity);
  }
  return out + "}";
}

ApiError UnknownCustomer(const CreateOrderInput& input) {
  return {ErrorCode::kInvalidArgument, "customerId",
          "customerId " + std::to_string(input.customer_id) + " does not exist"};
}

ApiError UnknownPayment(const CreateOrderInput& input) {
  return {ErrorCode::kInvalidArgument, "payment_id",
          "payment_id " + std::to_string(input.payment_id) + " does not exist"};
}

int64_t Cents(const pg::Result& r, int row, int col) {
  auto cents = ParseCents(r.Text(row, col));
  if (!cents)
    throw pg::PgError("order-api: unexpected money value " + std::string(r.Text(row, col)), "",
                      error::Kind::kPermanent);
  return *cents;
}

// RFC 3339 in UTC with microseconds, e.g. 2026-11-21T18:45:17.124467Z.
std::string FormatMicros(int64_t micros) {
  const std::time_t secs = static_cast<std::time_t>(micros / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  const std::string frac = std::to_string(micros % 1'000'000);
  return std::string(buf, n) + "." + std::string(6 - frac.size(), '0') + frac + "Z";
}

}  // namespace

std::vector<Order> ReadOrders(const pg::Result& r) {
  std::vector<Order> orders;
  for (int row = 0; row < r.rows(); ++row) {
    const int64_t id = r.Int(row, 0);
    if (orders.empty() || orders.back().id != id) {
      Order o;
      o.id = id;
      o.customer_id = r.Int(row, 1);
      o.payment_id = r.Int(row, 2);
      o.status = std::string(r.Text(row, 3));
      o.created_at = FormatMicros(r.Int(row, 4));
      orders.push_back(std::move(o));
    }
    if (r.IsNull(row, 5)) continue;
    OrderLine line;
    line.line_no = static_cast<int32_t>(r.Int(row, 5));
    line.product_id = r.Int(row, 6);
    line.quantity = static_cast<int32_t>(r.Int(row, 7));
    line.unit_price_cents = Cents(r, row, 8);
    if (!r.IsNull(row, 9)) line.promotion_id = r.Int(row, 9);
    line.discount_unit_price_cents = Cents(r, row, 10);
    orders.back().lines.push_back(line);
  }
  return orders;
}

ApiError CreateOutcomeUnknown(const CreateOrderInput& input) {
  const std::string lost = "database connection lost after the order was sent: it may or may not exist; ";
  if (!input.idempotency_key.empty()) {
    return {ErrorCode::kOutcomeUnknown, "",
            lost + "retry with the same Idempotency-Key to get it (created once at most)"};
  }
  return {ErrorCode::kOutcomeUnknown, "",
          lost +
              "list the customer's orders before creating it again, and send creates with an "
              "Idempotency-Key so that a retry cannot create an order twice"};
}

ApiError FromPgError(const pg::PgError& e) {
  if (e.kind() == error::Kind::kRetryable) {
    return {ErrorCode::kUnavailable, "", "database unavailable, retry later"};
  }
  // Undefined table or schema: this replica runs before anyone migrated the database
  // (ORDER_API_MIGRATE=false; /readyz says so too). Not a fault of the request, nor lasting.
  if (e.sqlstate() == "42P01" || e.sqlstate() == "3F000") {
    log::Warn("database schema missing", {{"error", e.what()}, {"sqlstate", e.sqlstate()}});
    return {ErrorCode::kUnavailable, "", "database schema not migrated yet, retry later"};
  }
  log::Error("database error", {{"error", e.what()}, {"sqlstate", e.sqlstate()}});
  return {ErrorCode::kInternal, "", "internal error"};
}

std::map<std::string, std::string> OrderStore::Statements() {
  return {
      {kCreate, CreateSql(false)},
      {kCreateKeyed, CreateSql(true)},
      {kGet, SelectOrdersSql("o.id = $1 AND o.deleted_at IS NULL")},
      {kGetForReplay, SelectOrdersSql("o.id = $1")},
      {kList, SelectOrdersSql("o.id > $1 AND o.deleted_at IS NULL ORDER BY o.id LIMIT $2")},
      {kListByCustomer,
       SelectOrdersSql("o.customer_id = $3 AND o.id > $1 AND o.deleted_at IS NULL ORDER BY o.id LIMIT $2")},
      {kFindKey, "SELECT order_id, request_fingerprint FROM rainbow.idempotency_keys WHERE key = $1"},
      {kActiveParties,
       "SELECT EXISTS (SELECT 1 FROM rainbow.customers WHERE id = $1 AND deleted_at IS NULL), "
       "EXISTS (SELECT 1 FROM rainbow.payments WHERE id = $2 AND deleted_at IS NULL)"},
      {kMissingProducts,
       "SELECT i.n - 1, i.id FROM unnest($1::bigint[]) WITH ORDINALITY AS i(id, n) "
       "WHERE NOT EXISTS (SELECT 1 FROM rainbow.products p WHERE p.id = i.id AND p.deleted_at IS NULL) "
       "ORDER BY i.n LIMIT 1"},
  };
}

const char* OrderStore::CreateStatement(bool keyed) { return keyed ? kCreateKeyed : kCreate; }

std::vector<std::string> OrderStore::CreateParams(const CreateOrderInput& input,
                                                  const std::string& fingerprint) {
  std::vector<std::string> params{std::to_string(input.customer_id), std::to_string(input.payment_id),
                                  IntArray(input.lines, true), IntArray(input.lines, false)};
  if (!input.idempotency_key.empty()) {
    params.push_back(input.idempotency_key);
    params.push_back(fingerprint);
  }
  return params;
}

std::optional<ApiResult<CreateResult>> ReadCreated(const pg::Result& r, const CreateOrderInput& input) {
  if (r.rows() == 0) return std::nullopt;
  try {
    auto orders = ReadOrders(r);
    if (orders.size() != 1 || orders[0].lines.size() != input.lines.size()) {
      return ApiError{ErrorCode::kInternal, "", "order was not written whole"};
    }
    return CreateResult{std::move(orders[0]), false};
  } catch (const pg::PgError& e) {
    return FromPgError(e);
  }
}

ApiResult<CreateResult> OrderStore::Create(const CreateOrderInput& input, const std::string& fingerprint) {
  try {
    auto conn = pool_.Acquire();
    const bool keyed = !input.idempotency_key.empty();
    if (keyed) {
      // Most retries find their key here; a retry racing the first request is caught below.
      auto replay = Replay(*conn, input, fingerprint);
      if (std::holds_alternative<CreateResult>(replay) ||
          std::get<ApiError>(replay).code != ErrorCode::kNotFound) {
        return replay;
      }
    }
    const auto params = CreateParams(input, fingerprint);
    // Prepared apart, so a connection lost from here on is known to have lost the create itself.
    conn->Prepare(CreateStatement(keyed));
    try {
      auto r = conn->ExecPrepared(CreateStatement(keyed), pg::Params(params.begin(), params.end()));
      if (auto created = ReadCreated(r, input)) return std::move(*created);
      return AfterFailedCreateOn(*conn, input, fingerprint, nullptr);
    } catch (const pg::PgError& e) {
      // No SQLSTATE from the server (ResultError's 08006) and the connection gone: the statement
      // reached the socket, its reply never came. A server that refused it says why (57P01, ...).
      if (e.sqlstate() == "08006" && !conn->Healthy()) {
        log::Warn("order create outcome unknown, connection lost",
                  {{"customer_id", input.customer_id}, {"error", e.what()}});
        return CreateOutcomeUnknown(input);
      }
      return AfterFailedCreateOn(*conn, input, fingerprint, &e);
    }
  } catch (const pg::PgError& e) {
    return FromPgError(e);
  }
}

ApiResult<CreateResult> OrderStore::AfterFailedCreate(const CreateOrderInput& input,
                                                      const std::string& fingerprint,
                                                      const pg::PgError* error) {
  try {
    auto conn = pool_.Acquire();
    return AfterFailedCreateOn(*conn, input, fingerprint, error);
  } catch (const pg::PgError& e) {
    return FromPgError(e);
  }
}

ApiResult<CreateResult> OrderStore::AfterFailedCreateOn(pg::Connection& conn, const CreateOrderInput& input,
                                                        const std::string& fingerprint,
                                                        const pg::PgError* error) {
  if (error == nullptr) return ExplainMissingParty(conn, input);
  if (!input.idempotency_key.empty() && error->sqlstate() == "23505" &&
      error->constraint() == "idempotency_keys_pkey") {
    // Another request with this key committed first: nothing of ours was written.
    try {
      return Replay(conn, input, fingerprint);
    } catch (const pg::PgError& e) {
      return FromPgError(e);
    }
  }
  return ExplainCreateFailure(conn, input, *error);
}

ApiResult<CreateResult> OrderStore::Replay(pg::Connection& conn, const CreateOrderInput& input,
                                           const std::string& fingerprint) {
  auto found = conn.ExecPrepared(kFindKey, {input.idempotency_key});
  if (found.rows() == 0) return ApiError{ErrorCode::kNotFound, "", "no such key"};
  if (found.Text(0, 1) != fingerprint) {
    return ApiError{ErrorCode::kIdempotencyConflict, "Idempotency-Key",
                    "Idempotency-Key was already used for a different request", input.idempotency_key};
  }
  auto r = conn.ExecPrepared(kGetForReplay, {std::to_string(found.Int(0, 0))});
  auto orders = ReadOrders(r);
  if (orders.size() != 1) return ApiError{ErrorCode::kInternal, "", "order of an idempotency key is missing"};
  return CreateResult{std::move(orders[0]), true};
}

ApiError OrderStore::ExplainMissingParty(pg::Connection& conn, const CreateOrderInput& input) {
  try {
    auto r = conn.ExecPrepared(kActiveParties,
                               {std::to_string(input.customer_id), std::to_string(input.payment_id)});
    if (r.Text(0, 0) != "t") return UnknownCustomer(input);
    if (r.Text(0, 1) != "t") return UnknownPayment(input);
  } catch (const pg::PgError& e) {
    return FromPgError(e);
  }
  // Both were there a moment ago: one was deleted in between and is back, or the order was not written
  // for a reason this check cannot see. Nothing was written either way.
  return {ErrorCode::kUnavailable, "", "customer or payment changed during the request, retry"};
}

ApiError OrderStore::ExplainCreateFailure(pg::Connection& conn, const CreateOrderInput& input,
                                          const pg::PgError& e) {
  if (e.constraint() == "orders_customer_id_fkey") return UnknownCustomer(input);
  if (e.constraint() == "orders_payment_id_fkey") return UnknownPayment(input);
  // An unknown product has no price: the line insert fails on price NOT NULL (or the product FK).
  if ((e.sqlstate() == "23502" && e.column() == "price") ||
      e.constraint() == "orderdetails_product_id_fkey") {
    try {
      auto missing = conn.ExecPrepared(kMissingProducts, {IntArray(input.lines, true)});
      if (missing.rows() == 1) {
        const std::string at = "products[" + std::string(missing.Text(0, 0)) + "].productId";
        return {ErrorCode::kInvalidArgument, at,
                at + " " + std::string(missing.Text(0, 1)) + " does not exist"};
      }
    } catch (const pg::PgError& again) {
      return FromPgError(again);
    }
  }
  if (e.sqlstate() == "22003") {  // numeric out of range: an order total beyond NUMERIC(12,2)
    return {ErrorCode::kInvalidArgument, "products", "order amounts exceed the supported range"};
  }
  return FromPgError(e);
}

ApiResult<Order> OrderStore::Get(int64_t id) {
  try {
    auto conn = pool_.Acquire();
    auto orders = ReadOrders(conn->ExecPrepared(kGet, {std::to_string(id)}));
    if (orders.empty())
      return ApiError{ErrorCode::kNotFound, "id", "order " + std::to_string(id) + " not found",
                      std::to_string(id)};
    return std::move(orders[0]);
  } catch (const pg::PgError& e) {
    return FromPgError(e);
  }
}

ApiResult<OrderPage> OrderStore::List(const ListQuery& query) {
  try {
    auto conn = pool_.Acquire();
    // One order more than asked tells whether another page follows.
    pg::Params params{std::to_string(query.after), std::to_string(query.limit + 1)};
    if (query.customer_id) params.push_back(std::to_string(*query.customer_id));
    auto orders = ReadOrders(conn->ExecPrepared(query.customer_id ? kListByCustomer : kList, params));
    OrderPage page;
    if (static_cast<int>(orders.size()) > query.limit) {
      orders.resize(static_cast<size_t>(query.limit));
      page.next_after = orders.back().id;
    }
    page.orders = std::move(orders);
    return page;
  } catch (const pg::PgError& e) {
    return FromPgError(e);
  }
}

}  // namespace rainbow::order
