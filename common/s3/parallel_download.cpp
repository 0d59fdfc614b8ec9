#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "common/s3/client.hpp"
#include "common/s3/http_transport.hpp"
#include "common/s3/object_headers.hpp"

namespace rainbow::s3 {

ObjectInfo S3Client::DownloadParallel(const BucketName& bucket, const ObjectKey& key, uint64_t part_size,
                                      int concurrency, const ChunkSink& sink) {
  return DownloadParallelBuffers(bucket, key, part_size, concurrency,
                                 [&](std::string& chunk) { sink(chunk); });
}

ObjectInfo S3Client::DownloadParallelBuffers(const BucketName& bucket, const ObjectKey& key,
                                             uint64_t part_size, int concurrency, const BufferSink& sink) {
  if (part_size == 0) throw std::invalid_argument("s3: part_size must be positive");
  if (concurrency < 1) throw std::invalid_argument("s3: concurrency must be at least 1");
  const ObjectInfo info = HeadObject(bucket, key);
  if (info.size == 0) return info;
  const uint64_t parts = (info.size + part_size - 1) / part_size;
  const uint64_t window = 2 * static_cast<uint64_t>(concurrency);  // parts fetched ahead of the sink

  std::mutex mu;
  std::condition_variable cv;
  std::map<uint64_t, std::string> ready;
  uint64_t next_claim = 0;
  uint64_t next_deliver = 0;
  bool stop = false;
  std::exception_ptr error;

  const auto worker = [&] {
    for (;;) {
      uint64_t index = 0;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return stop || next_claim >= parts || next_claim < next_deliver + window; });
        if (stop || next_claim >= parts) return;
        index = next_claim++;
      }
      try {
        internal::Request req("GET", bucket.str(), key.str());
        const uint64_t first = index * part_size;
        const uint64_t last = std::min(info.size, first + part_size) - 1;
        req.headers.emplace_back("range", internal::RangeHeader({first, last}));
        // Every part from the version HEAD saw; a replaced object fails with PreconditionFailed.
        req.headers.emplace_back("if-match", "\"" + info.etag + "\"");
        req.expected_body_bytes = static_cast<size_t>(last - first + 1);
        std::string body = transport_->Execute(req).body;
        if (body.size() != last - first + 1) {
          throw S3Error({S3ErrorKind::kRetryable, 206, "ShortRead",
                         "range " + std::to_string(first) + "-" + std::to_string(last) + " returned " +
                             std::to_string(body.size()) + " bytes",
                         "", "GET " + bucket.str() + "/" + key.str()});
        }
        std::lock_guard lock(mu);
        ready.emplace(index, std::move(body));
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        stop = true;
      }
      cv.notify_all();
    }
  };

  std::vector<std::jthread> threads;
  const auto stop_and_join = [&] {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : threads) {
      if (t.joinable()) t.join();
    }
  };

  try {
    for (int i = 0; i < concurrency && static_cast<uint64_t>(i) < parts; ++i) threads.emplace_back(worker);
    for (uint64_t index = 0; index < parts; ++index) {
      std::string chunk;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return error || ready.contains(index); });
        if (error) break;
        auto node = ready.extract(index);
        chunk = std::move(node.mapped());
        next_deliver = index + 1;
      }
      cv.notify_all();
      sink(chunk);  // on the caller's thread, strictly in order
    }
  } catch (...) {
    stop_and_join();
    throw;
  }
  stop_and_join();
  if (error) std::rethrow_exception(error);
  return info;
}

}  // namespace rainbow::s3
