#include "services/state-tracker/src/redis_pipeline.hpp"

#include <future>
#include <memory>
#include <numeric>
#include <set>
#include <stdexcept>

#include "common/logging/log.hpp"

namespace rainbow::state {

PipelinedClient::PipelinedClient(redis::RedisConfig config, size_t connections, size_t max_batch)
    : max_batch_(max_batch == 0 ? 1 : max_batch) {
  if (connections == 0) connections = 1;
  for (size_t i = 0; i < connections; ++i)
    connections_.push_back({std::make_unique<redis::Client>(config), false});
}

PipelinedClient::~PipelinedClient() = default;

void PipelinedClient::Enqueue(Pending p) {
  std::unique_lock lock(mu_);
  queue_.push_back(std::move(p));
  // Flat combining: with a free connection, this thread runs the queue (its own command included) until
  // it is empty; otherwise a busy thread takes the command after its current batch (it re-checks the
  // queue under the lock before it lets its connection go).
  std::vector<Pending> batch;
  while (!queue_.empty()) {
    Connection* free = nullptr;
    for (auto& c : connections_) {
      if (!c.busy) {
        free = &c;
        break;
      }
    }
    if (free == nullptr) return;
    free->busy = true;
    const auto n = static_cast<std::ptrdiff_t>(std::min(max_batch_, queue_.size()));
    batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    lock.unlock();
    try {
      RunBatch(*free->client, batch);
    } catch (...) {  // not a Redis error (those go to the callbacks): give the connection back
      lock.lock();
      free->busy = false;
      throw;
    }
    batch.clear();
    lock.lock();
    free->busy = false;
  }
}

void PipelinedClient::EvalAsync(const redis::Script& script, const std::vector<std::string>& keys,
                                const std::vector<std::string>& args, Resend resend, Callback done) {
  Pending p;
  p.args = EvalShaCommand(script, keys, args);
  p.script = &script;
  p.resend = resend;
  p.done = std::move(done);
  Enqueue(std::move(p));
}

void PipelinedClient::CommandAsync(std::vector<std::string> args, Resend resend, Callback done) {
  if (args.empty()) throw redis::RedisError("redis: empty command", false);
  Pending p;
  p.args = std::move(args);
  p.resend = resend;
  p.done = std::move(done);
  Enqueue(std::move(p));
}

namespace {

// Waits for one asynchronous call (the promise is shared: the I/O thread may still be inside
// set_value when the waiter returns).
template <typename Start>
redis::Reply Wait(Start&& start) {
  auto promise = std::make_shared<std::promise<redis::Reply>>();
  auto result = promise->get_future();
  start([promise](redis::Reply reply, std::exception_ptr error) {
    if (error) {
      promise->set_exception(error);
    } else {
      promise->set_value(std::move(reply));
    }
  });
  return result.get();
}

}  // namespace

redis::Reply PipelinedClient::Eval(const redis::Script& script, const std::vector<std::string>& keys,
                                   const std::vector<std::string>& args, Resend resend) {
  return Wait([&](Callback done) { EvalAsync(script, keys, args, resend, std::move(done)); });
}

redis::Reply PipelinedClient::Command(std::vector<std::string> args, Resend resend) {
  return Wait([&](Callback done) { CommandAsync(std::move(args), resend, std::move(done)); });
}

void PipelinedClient::RunBatch(redis::Client& client, std::vector<Pending>& batch) {
  const size_t n = batch.size();
  std::vector<std::vector<std::string>> commands;
  commands.reserve(n);
  for (auto& p : batch) commands.push_back(std::move(p.args));
  std::vector<redis::Reply> replies(n);
  std::vector<std::exception_ptr> errors(n);
  bool connection_error = false;
  // Sends the commands at `idx` (all when null) in one pipeline; returns the error that broke it.
  auto send = [&](const std::vector<size_t>* idx) -> std::exception_ptr {
    try {
      if (idx == nullptr) {
        auto got = client.Pipeline(commands);
        for (size_t i = 0; i < n; ++i) replies[i] = std::move(got[i]);
      } else {
        std::vector<std::vector<std::string>> subset;
        for (size_t i : *idx) subset.push_back(commands[i]);
        auto got = client.Pipeline(subset);
        for (size_t k = 0; k < idx->size(); ++k) replies[(*idx)[k]] = std::move(got[k]);
      }
      return nullptr;
    } catch (const redis::RedisError& e) {
      connection_error = e.connection();
      return std::current_exception();
    }
  };
  if (auto error = send(nullptr)) {
    // The link broke (Pipeline dropped it; the next send reconnects): resend once what tolerates it.
    std::vector<size_t> again;
    for (size_t i = 0; i < n; ++i) {
      if (connection_error && batch[i].resend == Resend::kOnce) {
        again.push_back(i);
      } else {
        errors[i] = error;
      }
    }
    if (!again.empty()) {
      if (auto retry_error = send(&again)) {
        for (size_t i : again) errors[i] = retry_error;
      }
    }
  }
  // NOSCRIPT: the script did not run; load it and run those commands again.
  std::vector<size_t> noscript;
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i] && batch[i].script != nullptr && replies[i].type == redis::Reply::Type::kError &&
        replies[i].str.rfind("NOSCRIPT", 0) == 0) {
      noscript.push_back(i);
    }
  }
  if (!noscript.empty()) {
    std::exception_ptr error;
    try {
      std::set<const redis::Script*> loaded;
      for (size_t i : noscript) {
        if (loaded.insert(batch[i].script).second) client.LoadScript(*batch[i].script);
      }
    } catch (const redis::RedisError&) {
      error = std::current_exception();
    }
    if (!error) error = send(&noscript);
    if (error) {
      for (size_t i : noscript) errors[i] = error;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    if (!errors[i] && replies[i].type == redis::Reply::Type::kError) {
      errors[i] = std::make_exception_ptr(
          redis::RedisError("redis: " + commands[i].front() + ": " + replies[i].str, false));
    }
    try {
      batch[i].done(errors[i] ? redis::Reply{} : std::move(replies[i]), errors[i]);
    } catch (const std::exception& e) {
      log::Error("redis: pipelined call's callback threw", {{"error", e.what()}});
    }
  }
}

}  // namespace rainbow::state
