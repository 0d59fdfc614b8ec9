#pragma once

#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/redis/client.hpp"

namespace rainbow::state {

// Concurrent callers' commands on a few shared connections, written together (auto-pipelining, group
// commit, by flat combining): a caller that queues a command while a connection is free takes that
// connection and runs the queue itself: it writes every queued command (up to max_batch) in one go,
// reads the replies in order and hands each to its caller, and goes on while commands keep arriving.
// A caller that finds every connection busy just queues (the busy callers take its command next), so
// there is no I/O thread and no hand-off between threads when there is no contention. Every command
// stays one command (an EVALSHA stays one atomic script); only the round trips are shared. With
// several connections, commands of different batches may run in any order (as with a pool): callers
// that need an order wait for the first reply before sending the next.
//
// Broken link: the batch's commands that allow it (Resend::kOnce) are written again once on a fresh
// connection (they may run twice: only for commands that tolerate that); the others fail with
// RedisError(connection=true). EVALSHA answered NOSCRIPT (a restarted server, a flushed script cache)
// loads the script and runs the command again. Thread-safe.
class PipelinedClient {
 public:
  enum class Resend { kNever, kOnce };
  // Exactly one of reply / error is meaningful (error non-null: a RedisError). Runs on whichever thread
  // ran the batch (possibly the caller's own, inside EvalAsync/CommandAsync): it must not block, and
  // must not make a blocking call on this client.
  using Callback = std::function<void(redis::Reply reply, std::exception_ptr error)>;

  PipelinedClient(redis::RedisConfig config, size_t connections, size_t max_batch = 256);
  ~PipelinedClient();
  PipelinedClient(const PipelinedClient&) = delete;
  PipelinedClient& operator=(const PipelinedClient&) = delete;

  void EvalAsync(const redis::Script& script, const std::vector<std::string>& keys,
                 const std::vector<std::string>& args, Resend resend, Callback done);
  void CommandAsync(std::vector<std::string> args, Resend resend, Callback done);
  // Blocking forms (never from a Callback). An error reply throws RedisError(connection=false).
  redis::Reply Eval(const redis::Script& script, const std::vector<std::string>& keys,
                    const std::vector<std::string>& args, Resend resend);
  redis::Reply Command(std::vector<std::string> args, Resend resend);

 private:
  struct Pending {
    std::vector<std::string> args;
    const redis::Script* script = nullptr;  // EVALSHA of this script (NOSCRIPT -> load and rerun)
    Resend resend = Resend::kNever;
    Callback done;
  };
  struct Connection {
    std::unique_ptr<redis::Client> client;
    bool busy = false;
  };
  void Enqueue(Pending p);
  void RunBatch(redis::Client& client, std::vector<Pending>& batch);

  size_t max_batch_;
  std::mutex mu_;
  std::deque<Pending> queue_;
  std::vector<Connection> connections_;
};

}  // namespace rainbow::state
