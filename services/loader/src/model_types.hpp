#pragma once

#include <string>
#include <string_view>

#include "services/loader/src/change_event.hpp"

namespace rainbow::loader {

// Whether `text` is a valid PostgreSQL literal of `sql_type` (bigint, integer, numeric(p,s), boolean,
// timestamptz, text): the checks the model's casts would make, done before the event is staged so
// that a value the model cannot use is dead-lettered with its own event, not with whichever later
// event happens to make the model read it.
bool IsValidLiteral(std::string_view sql_type, std::string_view text);

// Throws PoisonError naming the column when a column the model casts (a dimension's attributes, the
// columns fact_sales reads from orders and orderdetails) holds a value of the wrong type.
void CheckModelTypes(const ChangeEvent& event);

}  // namespace rainbow::loader
