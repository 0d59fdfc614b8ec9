#pragma once

#include <set>
#include <string>
#include <vector>

namespace rainbow::loader {

// The statements that bring fact_sales up to date for the orders a batch touched: `orders` are queries
// yielding one bigint column each (order ids whose header or lines changed), in order:
//   - the touched orders' lines that have their header are read from staging (a line without its
//     header waits in staging: the header's arrival touches its order);
//   - facts of touched orders whose line or header is no longer in staging are deleted;
//   - dim_dates gets every new order date;
//   - inferred members are created for ids the lines reference and no dimension holds yet;
//   - the lines are upserted with every dimension key resolved as of the order's time (the latest
//     version with valid_from <= order_ts: versions chain without gaps from 1900-01-01 on, so that is
//     the version valid then, or after a delete the member's last one); the seller comes with the
//     product version.
std::vector<std::string> FactStatements(const std::vector<std::string>& orders);

// The statements that re-resolve the keys of the facts referencing members a batch gave a new version
// or filled in (dimension tables named in `changed_dims`, members listed in loader_changed_members):
// one UPDATE per dimension, each driven by its indexed natural-id column.
std::vector<std::string> ReresolveStatements(const std::set<std::string>& changed_dims);

// Deletes the facts whose line or header is no longer in staging (after a truncate of orders or
// orderdetails in the source).
std::string DeleteOrphanFactsStatement();

}  // namespace rainbow::loader
