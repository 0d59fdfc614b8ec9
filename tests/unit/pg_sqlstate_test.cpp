#include <gtest/gtest.h>

#include "common/pg/connection.hpp"

namespace rainbow::pg {
namespace {

TEST(SqlState, ClassifiesByClass) {
  EXPECT_EQ(ClassifySqlState("40001"), error::Kind::kRetryable);        // serialization_failure
  EXPECT_EQ(ClassifySqlState("40P01"), error::Kind::kRetryable);        // deadlock_detected
  EXPECT_EQ(ClassifySqlState("08006"), error::Kind::kRetryable);        // connection_failure
  EXPECT_EQ(ClassifySqlState("57P01"), error::Kind::kRetryable);        // admin_shutdown
  EXPECT_EQ(ClassifySqlState("23505"), error::Kind::kConflict);         // unique_violation
  EXPECT_EQ(ClassifySqlState("22P02"), error::Kind::kInvalidArgument);  // invalid_text_representation
  EXPECT_EQ(ClassifySqlState("42P01"), error::Kind::kInvalidArgument);  // undefined_table
  EXPECT_EQ(ClassifySqlState("XX000"), error::Kind::kPermanent);
}

}  // namespace
}  // namespace rainbow::pg
