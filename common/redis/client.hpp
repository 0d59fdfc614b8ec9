#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/retry/backoff.hpp"

struct redisContext;

#include "common/error/error.hpp"

namespace rainbow::redis {

// An owned copy of a hiredis reply.
struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // string, status or error text
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool IsNil() const { return type == Type::kNil; }
};

// A failed Redis command. kind(): error::Kind::kUnavailable when the server could not be reached or
// the link broke (connection() is true; a retry may help), kPermanent for an error reply.
class RedisError : public error::Error {
 public:
  RedisError(const std::string& message, bool connection)
      : error::Error(message, connection ? error::Kind::kUnavailable : error::Kind::kPermanent) {}
  bool connection() const { return kind() == error::Kind::kUnavailable; }
};

// What REDIS_URL names: redis[s]://[[user]:password@]host[:port][/db]. A user means a Redis 6 ACL user
// (AUTH user password); without one, the default user. rediss:// is TLS (see tls_tunnel.hpp).
struct RedisEndpoint {
  bool tls = false;
  std::string host;
  int port = 6379;
  int db = 0;
  std::string user;
  std::string password;
};

struct RedisConfig {
  std::string url;      // REDIS_URL: redis[s]://[[user]:password@]host:port[/db]
  std::string ca_file;  // REDIS_CA_FILE: the CA bundle for rediss:// (empty: the system's trust store)
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds command_timeout{5'000};
  // How long a call keeps trying to (re)connect before it fails.
  std::chrono::milliseconds reconnect_budget{10'000};
  retry::BackoffPolicy backoff{std::chrono::milliseconds(50), std::chrono::milliseconds(1'000), 2.0, 0};
};

// A Lua script known by its SHA-1, so calls send EVALSHA (the hash) instead of the body.
struct Script {
  explicit Script(std::string body);
  std::string body;
  std::string sha1;
};

// The command line EVALSHA <sha1> <number of keys> <keys...> <args...>.
std::vector<std::string> EvalShaCommand(const Script& script, const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args);

// One connection to Redis (hiredis, synchronous). Not thread-safe: one per thread, or guard it.
// The connection is (re)opened lazily: when the server restarted, the next call reconnects with
// jittered backoff for up to reconnect_budget. A call whose connection breaks mid-command throws
// RedisError(connection=true) and is NOT resent (the command may have run); the caller decides.
class Client {
 public:
  explicit Client(RedisConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Sends one command; an error reply becomes RedisError(connection=false).
  Reply Command(const std::vector<std::string>& args);
  // EVALSHA; on NOSCRIPT (a restarted server or a flushed cache) loads the script and retries once.
  Reply Eval(const Script& script, const std::vector<std::string>& keys,
             const std::vector<std::string>& args);
  // Pipelining: writes every command, then reads their replies in order (one round trip for all).
  // An error reply is returned as a Reply of type kError, not thrown; a link that breaks throws
  // RedisError(connection=true) for the whole batch (some commands may have run).
  std::vector<Reply> Pipeline(const std::vector<std::vector<std::string>>& commands);
  // SCRIPT LOAD, checking that the server's sha matches ours (after NOSCRIPT).
  void LoadScript(const Script& script);
  // Drops the connection; the next call reconnects.
  void Disconnect();

 private:
  void EnsureConnected();
  Reply Send(const std::vector<std::string>& args);

  RedisConfig config_;
  RedisEndpoint endpoint_;
  redisContext* ctx_ = nullptr;
};

// Parses REDIS_URL; throws std::invalid_argument on a malformed URL, naming it with its password
// hidden.
RedisEndpoint ParseRedisUrl(const std::string& url);

}  // namespace rainbow::redis
