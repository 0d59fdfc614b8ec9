#include "common/redis/client.hpp"

#include <hiredis/hiredis.h>

#include <thread>

#include "common/crypto/sha256.hpp"
#include "common/logging/log.hpp"
#include "common/redis/tls_tunnel.hpp"
#include "common/security/url_redaction.hpp"

namespace rainbow::redis {
namespace {

// hiredis' argv form of a command: pointers into `args` and their lengths.
struct Argv {
  explicit Argv(const std::vector<std::string>& args) {
    ptrs.reserve(args.size());
    lens.reserve(args.size());
    for (const auto& a : args) {
      ptrs.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
};

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

timeval ToTimeval(std::chrono::milliseconds ms) {
  return timeval{static_cast<time_t>(ms.count() / 1000),
                 static_cast<suseconds_t>((ms.count() % 1000) * 1000)};
}

}  // namespace

Script::Script(std::string b) : body(std::move(b)), sha1(crypto::Sha1Hex(body)) {}

RedisEndpoint ParseRedisUrl(const std::string& url) {
  const std::string shown = security::RedactUrl(url);
  RedisEndpoint e;
  e.tls = url.rfind("rediss://", 0) == 0;
  const std::string scheme = e.tls ? "rediss://" : "redis://";
  if (url.rfind(scheme, 0) != 0) {
    throw std::invalid_argument("REDIS_URL='" + shown + "' must start with redis:// or rediss:// (TLS)");
  }
  std::string rest = url.substr(scheme.size());
  const auto at = rest.rfind('@');
  if (at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    const auto colon = auth.find(':');
    if (colon == std::string::npos) {
      e.password = auth;  // redis://password@host, as redis-cli reads it
    } else {
      e.user = auth.substr(0, colon);
      e.password = auth.substr(colon + 1);
    }
    rest = rest.substr(at + 1);
  }
  const auto slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  try {
    if (slash != std::string::npos && slash + 1 < rest.size()) e.db = std::stoi(rest.substr(slash + 1));
    const auto colon = hostport.rfind(':');
    e.host = hostport.substr(0, colon);
    e.port = colon == std::string::npos ? 6379 : std::stoi(hostport.substr(colon + 1));
  } catch (const std::exception&) {
    throw std::invalid_argument("REDIS_URL='" + shown + "' has an invalid port or db number");
  }
  if (e.host.empty() || e.port <= 0 || e.port > 65535 || e.db < 0) {
    throw std::invalid_argument("REDIS_URL='" + shown + "' needs redis://host:port[/db]");
  }
  return e;
}

Client::Client(RedisConfig config) : config_(std::move(config)) { endpoint_ = ParseRedisUrl(config_.url); }

Client::~Client() { Disconnect(); }

void Client::Disconnect() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

void Client::EnsureConnected() {
  if (ctx_ != nullptr && ctx_->err == 0) return;
  Disconnect();
  retry::Backoff backoff(config_.backoff);
  const auto deadline = std::chrono::steady_clock::now() + config_.reconnect_budget;
  std::string last_error;
  for (;;) {
    const timeval tv = ToTimeval(config_.connect_timeout);
    redisContext* c = nullptr;
    if (endpoint_.tls) {
      try {
        c = redisConnectFd(
            ConnectTlsTunnel(endpoint_.host, endpoint_.port, config_.ca_file, config_.connect_timeout));
      } catch (const std::runtime_error& e) {
        last_error = e.what();
      }
    } else {
      c = redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, tv);
    }
    if (c != nullptr && c->err == 0) {
      const timeval cmd = ToTimeval(config_.command_timeout);
      redisSetTimeout(c, cmd);
      ctx_ = c;
      try {
        if (!endpoint_.user.empty()) {
          Send({"AUTH", endpoint_.user, endpoint_.password});
        } else if (!endpoint_.password.empty()) {
          Send({"AUTH", endpoint_.password});
        }
        if (endpoint_.db != 0) Send({"SELECT", std::to_string(endpoint_.db)});
        if (backoff.attempts() > 0)
          log::Info("redis reconnected", {{"host", endpoint_.host}, {"port", endpoint_.port}});
        return;
      } catch (const RedisError& e) {
        Disconnect();                // frees c
        if (!e.connection()) throw;  // wrong password: retrying will not help
        // The link broke during AUTH (e.g. a plaintext client at a TLS port): back off like any
        // failed connect; retrying at once would spin.
        last_error = e.what();
      }
    } else {
      if (c != nullptr || !endpoint_.tls)
        last_error = c != nullptr ? c->errstr : "cannot allocate redis context";
      if (c != nullptr) redisFree(c);
    }
    const auto delay = backoff.NextDelay();
    if (std::chrono::steady_clock::now() + delay > deadline) {
      throw RedisError("redis: cannot connect to " + endpoint_.host + ":" + std::to_string(endpoint_.port) +
                           ": " + last_error,
                       true);
    }
    std::this_thread::sleep_for(delay);
  }
}

Reply Client::Send(const std::vector<std::string>& args) {
  Argv argv(args);
  auto* raw =
      static_cast<redisReply*>(redisCommandArgv(ctx_, argv.count(), argv.ptrs.data(), argv.lens.data()));
  if (raw == nullptr) {
    const std::string err = ctx_->errstr;
    Disconnect();
    throw RedisError("redis: " + args.front() + ": connection lost: " + err, true);
  }
  Reply reply = Convert(raw);
  freeReplyObject(raw);
  if (reply.type == Reply::Type::kError) throw RedisError("redis: " + args.front() + ": " + reply.str, false);
  return reply;
}

std::vector<Reply> Client::Pipeline(const std::vector<std::vector<std::string>>& commands) {
  std::vector<Reply> replies;
  if (commands.empty()) return replies;
  EnsureConnected();
  for (const auto& args : commands) {
    if (args.empty()) throw RedisError("redis: empty command", false);
    Argv argv(args);
    if (redisAppendCommandArgv(ctx_, argv.count(), argv.ptrs.data(), argv.lens.data()) != REDIS_OK) {
      const std::string err = ctx_->errstr;
      Disconnect();
      throw RedisError("redis: pipeline: " + err, true);
    }
  }
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* raw = nullptr;
    if (redisGetReply(ctx_, &raw) != REDIS_OK || raw == nullptr) {
      const std::string err = ctx_->errstr;
      Disconnect();
      throw RedisError(
          "redis: pipeline of " + std::to_string(commands.size()) + " commands: connection lost: " + err,
          true);
    }
    replies.push_back(Convert(static_cast<redisReply*>(raw)));
    freeReplyObject(raw);
  }
  return replies;
}

Reply Client::Command(const std::vector<std::string>& args) {
  if (args.empty()) throw RedisError("redis: empty command", false);
  EnsureConnected();
  return Send(args);
}

std::vector<std::string> EvalShaCommand(const Script& script, const std::vector<std::string>& keys,
                                        const std::vector<std::string>& args) {
  std::vector<std::string> cmd;
  cmd.reserve(3 + keys.size() + args.size());
  cmd.push_back("EVALSHA");
  cmd.push_back(script.sha1);
  cmd.push_back(std::to_string(keys.size()));
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

void Client::LoadScript(const Script& script) {
  const Reply loaded = Command({"SCRIPT", "LOAD", script.body});
  if (loaded.str != script.sha1) {
    throw RedisError("redis: SCRIPT LOAD returned sha " + loaded.str + ", expected " + script.sha1, false);
  }
}

Reply Client::Eval(const Script& script, const std::vector<std::string>& keys,
                   const std::vector<std::string>& args) {
  const auto cmd = EvalShaCommand(script, keys, args);
  try {
    return Command(cmd);
  } catch (const RedisError& e) {
    if (e.connection() || std::string(e.what()).find("NOSCRIPT") == std::string::npos) throw;
  }
  LoadScript(script);
  return Command(cmd);
}

}  // namespace rainbow::redis
