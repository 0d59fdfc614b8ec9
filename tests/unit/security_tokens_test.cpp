// The pure parts of common/security: the tokens file, the authorization decision, URL redaction.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "common/security/authorizer.hpp"
#include "common/security/token_table.hpp"
#include "common/security/url_redaction.hpp"

namespace {

using rainbow::security::Authorizer;
using rainbow::security::TokenTable;
using rainbow::security::Verdict;

const char* kFile =
    "# comment\n"
    "token reader orders:read tok-reader-0123456789abcdef\n"
    "\n"
    "token writer orders:write,orders:read tok-writer-0123456789abcdef  # trailing comment\n"
    "token ops * tok-ops-0123456789abcdef0\n"
    "mtls converter-worker files:write\n";

TEST(TokenTable, FindsTokensAndIdentities) {
  const auto t = TokenTable::Parse(kFile);
  EXPECT_EQ(t.token_count(), 3u);
  ASSERT_NE(t.FindToken("tok-reader-0123456789abcdef"), nullptr);
  EXPECT_EQ(t.FindToken("tok-reader-0123456789abcdef")->name, "reader");
  EXPECT_EQ(t.FindToken("tok-reader-0123456789abcde"), nullptr);  // a prefix is not the token
  EXPECT_EQ(t.FindToken(""), nullptr);
  ASSERT_NE(t.FindIdentity("converter-worker"), nullptr);
  EXPECT_TRUE(t.FindIdentity("converter-worker")->HasScope("files:write"));
  EXPECT_EQ(t.FindIdentity("reader"), nullptr);  // a token's name is not a certificate identity
  EXPECT_TRUE(t.FindToken("tok-ops-0123456789abcdef0")->HasScope("anything:at-all"));
}

TEST(TokenTable, RefusesMalformedFilesWithoutEchoingSecrets) {
  const auto error_of = [](const std::string& text) {
    try {
      TokenTable::Parse(text);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("parsed");
  };
  EXPECT_NE(error_of("token short orders:read tooshort\n").find("16 to 4096"), std::string::npos);
  EXPECT_EQ(error_of("token short orders:read tooshort\n").find("tooshort"), std::string::npos);
  EXPECT_NE(error_of("token a Orders:Read tok-0123456789abcdef\n").find("not a scope"), std::string::npos);
  EXPECT_NE(error_of("key a orders:read tok-0123456789abcdef\n").find("unknown kind"), std::string::npos);
  EXPECT_NE(error_of("token a orders:read\n").find("expected"), std::string::npos);
  EXPECT_NE(error_of("token a orders:read tok-0123456789abcdef extra\n").find("expected"), std::string::npos);
  EXPECT_NE(error_of("token a x:y tok-0123456789abcdef\ntoken a x:y tok-0123456789abcdeX\n").find("twice"),
            std::string::npos);
  EXPECT_NE(error_of("token a x:y tok-0123456789abcdef\ntoken b x:y tok-0123456789abcdef\n").find("repeats"),
            std::string::npos);
  EXPECT_NE(error_of("# nothing\n").find("no token"), std::string::npos);
}

struct TokensFile {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tokens-" + std::to_string(::getpid()) + "-" +
                       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count())))
                         .string();
  explicit TokensFile(const std::string& text) { Write(text); }
  ~TokensFile() { std::remove(path.c_str()); }
  void Write(const std::string& text) const {
    const std::string staged = path + ".new";
    std::ofstream(staged) << text;
    std::filesystem::rename(staged, path);
  }
};

TEST(Authorizer, DecidesByTokenScopeAndCertificate) {
  TokensFile file(kFile);
  const Authorizer auth({file.path});
  const std::vector<std::string> no_cert;
  EXPECT_EQ(auth.Decide(std::nullopt, no_cert, "orders:read").verdict, Verdict::kUnauthenticated);
  EXPECT_EQ(auth.Decide("Basic abc", no_cert, "orders:read").verdict, Verdict::kUnauthenticated);
  EXPECT_EQ(auth.Decide("Bearer ", no_cert, "orders:read").verdict, Verdict::kUnauthenticated);
  EXPECT_EQ(auth.Decide("Bearer nope-0123456789abcdef", no_cert, "orders:read").verdict,
            Verdict::kUnauthenticated);
  EXPECT_TRUE(auth.Decide("Bearer tok-reader-0123456789abcdef", no_cert, "orders:read").allowed());
  EXPECT_TRUE(auth.Decide("bearer  tok-reader-0123456789abcdef ", no_cert, "orders:read").allowed());
  const auto denied = auth.Decide("Bearer tok-reader-0123456789abcdef", no_cert, "orders:write");
  EXPECT_EQ(denied.verdict, Verdict::kPermissionDenied);
  EXPECT_EQ(denied.principal, "reader");
  EXPECT_EQ(denied.reason.find("tok-reader"), std::string::npos);
  // A certificate identity counts only when no token is sent, and only with its own scopes.
  EXPECT_TRUE(auth.Decide(std::nullopt, {"converter-worker"}, "files:write").allowed());
  EXPECT_EQ(auth.Decide(std::nullopt, {"converter-worker"}, "files:read").verdict,
            Verdict::kPermissionDenied);
  EXPECT_EQ(auth.Decide(std::nullopt, {"stranger"}, "files:write").verdict, Verdict::kUnauthenticated);
  EXPECT_EQ(auth.Decide("Bearer wrong-0123456789abcdef", {"converter-worker"}, "files:write").verdict,
            Verdict::kUnauthenticated);
}

TEST(Authorizer, OffAllowsEverything) {
  const Authorizer auth({""});
  EXPECT_FALSE(auth.enabled());
  EXPECT_TRUE(auth.Decide(std::nullopt, {}, "orders:write").allowed());
}

TEST(Authorizer, ReloadsAChangedFileAndKeepsTheLastGoodOne) {
  TokensFile file("token a orders:read tok-first-0123456789abcdef\n");
  const Authorizer auth({file.path});
  EXPECT_TRUE(auth.Decide("Bearer tok-first-0123456789abcdef", {}, "orders:read").allowed());
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  file.Write("token a orders:read tok-second-0123456789abcdef\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_FALSE(auth.Decide("Bearer tok-first-0123456789abcdef", {}, "orders:read").allowed());
  EXPECT_TRUE(auth.Decide("Bearer tok-second-0123456789abcdef", {}, "orders:read").allowed());
  file.Write("this is not a tokens file\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_TRUE(auth.Decide("Bearer tok-second-0123456789abcdef", {}, "orders:read").allowed());
}

TEST(Redaction, HidesPasswordsInUrlsAndDsns) {
  using rainbow::security::RedactDsn;
  using rainbow::security::RedactUrl;
  EXPECT_EQ(RedactUrl("redis://user:s3cret@host:6379/0"), "redis://user:***@host:6379/0");
  EXPECT_EQ(RedactUrl("rediss://:s3cret@host"), "rediss://:***@host");
  EXPECT_EQ(RedactUrl("redis://host:6379/0"), "redis://host:6379/0");
  EXPECT_EQ(RedactUrl("redis://user@host"), "redis://user@host");
  EXPECT_EQ(RedactUrl("http://a:b@c/d?x=e@f"), "http://a:***@c/d?x=e@f");
  EXPECT_EQ(RedactDsn("host=h password=s3cret dbname=x"), "host=h password=*** dbname=x");
  EXPECT_EQ(RedactDsn("host=h password='s3 cret' dbname=x"), "host=h password=*** dbname=x");
  EXPECT_EQ(RedactDsn("postgresql://u:s3cret@h/db"), "postgresql://u:***@h/db");
}

}  // namespace
