#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/pg/pool.hpp"
#include "services/order-api/src/order_types.hpp"

namespace rainbow::order {

// The SQL of order-api, run through prepared statements on a connection pool. Every create is one
// statement (one implicit transaction): the order, all its lines and the idempotency key are written
// together or not at all. Thread-safe (the pool is).
class OrderStore {
 public:
  explicit OrderStore(pg::Pool& pool) : pool_(pool) {}

  // The prepared statements a pool serving this store must register.
  static std::map<std::string, std::string> Statements();

  // Inputs are validated already. Unknown or soft-deleted customer/payment/product become
  // kInvalidArgument naming the field; a database that cannot be reached kUnavailable; a connection
  // lost once the statement was sent kOutcomeUnknown (it may have committed).
  ApiResult<CreateResult> Create(const CreateOrderInput& input, const std::string& fingerprint);
  ApiResult<Order> Get(int64_t id);
  ApiResult<OrderPage> List(const ListQuery& query);

  // Create in parts, for a caller that runs the create statement itself (gRPC's event loop): the
  // statement's name and parameters; then ReadCreated on its answer; and when that has no order, this
  // explains the failure (`error`, or null when the statement wrote nothing) on a pooled connection
  // exactly as Create would, replaying a key another request stored first.
  static const char* CreateStatement(bool keyed);
  static std::vector<std::string> CreateParams(const CreateOrderInput& input, const std::string& fingerprint);
  ApiResult<CreateResult> AfterFailedCreate(const CreateOrderInput& input, const std::string& fingerprint,
                                            const pg::PgError* error);

 private:
  ApiResult<CreateResult> AfterFailedCreateOn(pg::Connection& conn, const CreateOrderInput& input,
                                              const std::string& fingerprint, const pg::PgError* error);
  ApiResult<CreateResult> Replay(pg::Connection& conn, const CreateOrderInput& input,
                                 const std::string& fingerprint);
  // The create statement wrote nothing: says which of customer and payment is missing or deleted.
  ApiError ExplainMissingParty(pg::Connection& conn, const CreateOrderInput& input);
  ApiError ExplainCreateFailure(pg::Connection& conn, const CreateOrderInput& input, const pg::PgError& e);

  pg::Pool& pool_;
};

// Folds a one-row-per-line order query result (the shape of every order statement) into orders, in
// result order.
std::vector<Order> ReadOrders(const pg::Result& r);

// A successful create statement's answer: the order it wrote, or kInternal when that is not whole.
// Empty when it returned no row (it wrote nothing: AfterFailedCreate says why).
std::optional<ApiResult<CreateResult>> ReadCreated(const pg::Result& r, const CreateOrderInput& input);

// The answer to a create whose statement was sent and whose connection was lost before its reply:
// it may have committed. The message tells the client how to retry without creating it twice.
ApiError CreateOutcomeUnknown(const CreateOrderInput& input);

// Maps a database error with no better explanation to an API error (unavailable or internal).
ApiError FromPgError(const pg::PgError& e);

}  // namespace rainbow::order
