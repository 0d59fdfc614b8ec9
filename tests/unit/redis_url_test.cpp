#include <gtest/gtest.h>

#include "common/redis/client.hpp"

namespace rainbow::redis {
namespace {

TEST(RedisUrl, ParsesHostPortDbAndPassword) {
  std::string host, password;
  int port = 0, db = 0;
  ParseRedisUrl("redis://:pw@10.0.0.1:6380/3", host, port, db, password);
  EXPECT_EQ(host, "10.0.0.1");
  EXPECT_EQ(port, 6380);
  EXPECT_EQ(db, 3);
  EXPECT_EQ(password, "pw");
  ParseRedisUrl("redis://localhost", host, port, db, password);
  EXPECT_EQ(port, 6379);
  EXPECT_EQ(db, 0);
}

TEST(RedisUrl, RejectsMalformedUrls) {
  std::string host, password;
  int port = 0, db = 0;
  EXPECT_THROW(ParseRedisUrl("http://x:1", host, port, db, password), std::invalid_argument);
  EXPECT_THROW(ParseRedisUrl("redis://x:notaport", host, port, db, password), std::invalid_argument);
  EXPECT_THROW(ParseRedisUrl("redis://:1/0", host, port, db, password), std::invalid_argument);
}

TEST(Script, IsNamedByItsSha1) {
  // SHA-1 of "return 1", as Redis' SCRIPT LOAD reports it.
  EXPECT_EQ(Script("return 1").sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace rainbow::redis
