#pragma once

#include <string>
#include <vector>

namespace rainbow::loader {

// The natural ids a batch touched, as queries yielding one bigint column each (empty = none), from
// which the fact statements pick the order lines to (re)build and the facts whose keys to re-resolve.
struct TouchedIds {
  std::vector<std::string> orders;  // order ids whose header or lines changed
  std::string customers, payments, sellers, promotions, products;
};

// The statements that bring fact_sales up to date for `touched`, in order:
//   - facts of touched orders whose line or header is no longer in staging are deleted;
//   - dim_dates gets every new order date;
//   - inferred members are created for ids the lines reference and no dimension holds yet;
//   - the touched orders' lines that have their header are upserted (a line without its header waits
//     in staging: the header's arrival touches its order);
//   - every dimension key of the touched facts, and of the facts referencing a touched member, is
//     resolved as of the order's time (the version with valid_from <= order_ts < valid_to, else the
//     member's latest version).
std::vector<std::string> FactStatements(const TouchedIds& touched);

// Deletes every fact (a truncate of orders or orderdetails in the source).
std::string DeleteAllFactsStatement();

}  // namespace rainbow::loader
