#include "bench/order-api/load_support.hpp"

namespace rainbow::order::load {

RandomOrder MakeOrder(std::mt19937_64& rng, const Options& o) {
  RandomOrder r;
  r.customer = std::uniform_int_distribution<int64_t>(1, o.customers)(rng);
  r.payment = std::uniform_int_distribution<int64_t>(1, o.payments)(rng);
  const int n = std::uniform_int_distribution<int>(1, 5)(rng);
  for (int i = 0; i < n; ++i) {
    r.lines.push_back({std::uniform_int_distribution<int64_t>(1, o.products)(rng),
                       std::uniform_int_distribution<int>(1, 5)(rng)});
  }
  return r;
}

std::vector<int> ConnectionsOfThread(const Options& o, int thread) {
  std::vector<int> mine;
  for (int c = thread; c < o.concurrency; c += o.threads) mine.push_back(c);
  return mine;
}

}  // namespace rainbow::order::load
