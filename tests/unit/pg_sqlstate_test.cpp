#include <gtest/gtest.h>

#include "common/pg/connection.hpp"

namespace rainbow::pg {
namespace {

TEST(SqlState, ClassifiesByClass) {
  EXPECT_EQ(ClassifySqlState("40001"), ErrorKind::kRetryable);   // serialization_failure
  EXPECT_EQ(ClassifySqlState("40P01"), ErrorKind::kRetryable);   // deadlock_detected
  EXPECT_EQ(ClassifySqlState("08006"), ErrorKind::kRetryable);   // connection_failure
  EXPECT_EQ(ClassifySqlState("57P01"), ErrorKind::kRetryable);   // admin_shutdown
  EXPECT_EQ(ClassifySqlState("23505"), ErrorKind::kConstraint);  // unique_violation
  EXPECT_EQ(ClassifySqlState("22P02"), ErrorKind::kInvalid);     // invalid_text_representation
  EXPECT_EQ(ClassifySqlState("42P01"), ErrorKind::kInvalid);     // undefined_table
  EXPECT_EQ(ClassifySqlState("XX000"), ErrorKind::kPermanent);
}

}  // namespace
}  // namespace rainbow::pg
