#include <gtest/gtest.h>

#include "common/redis/client.hpp"

namespace rainbow::redis {
namespace {

TEST(RedisUrl, ParsesHostPortDbUserAndPassword) {
  auto e = ParseRedisUrl("redis://:pw@10.0.0.1:6380/3");
  EXPECT_EQ(e.host, "10.0.0.1");
  EXPECT_EQ(e.port, 6380);
  EXPECT_EQ(e.db, 3);
  EXPECT_EQ(e.user, "");
  EXPECT_EQ(e.password, "pw");
  e = ParseRedisUrl("redis://tracker:p:w@h/1");  // an ACL user; the password may hold ':'
  EXPECT_EQ(e.user, "tracker");
  EXPECT_EQ(e.password, "p:w");
  e = ParseRedisUrl("redis://localhost");
  EXPECT_EQ(e.port, 6379);
  EXPECT_EQ(e.db, 0);
}

TEST(RedisUrl, RejectsMalformedUrlsWithoutShowingThePassword) {
  EXPECT_THROW(ParseRedisUrl("http://x:1"), std::invalid_argument);
  EXPECT_THROW(ParseRedisUrl("redis://x:notaport"), std::invalid_argument);
  EXPECT_THROW(ParseRedisUrl("redis://:1/0"), std::invalid_argument);
  EXPECT_TRUE(ParseRedisUrl("rediss://u:p@h:6380").tls);
  EXPECT_FALSE(ParseRedisUrl("redis://u:p@h:6380").tls);
  for (const char* url :
       {"redis://u:SECRETPW@x:notaport", "rediss://u:SECRETPW@x:port", "redis://u:SECRETPW@:1/0"}) {
    try {
      ParseRedisUrl(url);
      ADD_FAILURE() << "parsed";
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find("SECRETPW"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("***"), std::string::npos) << e.what();
    }
  }
}

TEST(Script, IsNamedByItsSha1) {
  // SHA-1 of "return 1", as Redis' SCRIPT LOAD reports it.
  EXPECT_EQ(Script("return 1").sha1, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

}  // namespace
}  // namespace rainbow::redis
