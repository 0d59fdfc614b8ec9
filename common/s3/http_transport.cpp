#include "common/s3/http_transport.hpp"

#include <curl/curl.h>
#include <pugixml.hpp>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <utility>

#include "common/crypto/sha256.hpp"
#include "common/retry/backoff.hpp"

namespace rainbow::s3::internal {

struct Transport::Handle {
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {};

  Handle() : easy(curl_easy_init()) {
    if (easy == nullptr) throw std::runtime_error("s3: curl_easy_init failed");
  }
  ~Handle() { curl_easy_cleanup(easy); }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
};

namespace {

constexpr size_t kMaxIdleHandles = 32;

std::once_flag g_curl_init;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// Per-request state the libcurl callbacks work on.
struct Transfer {
  CURL* easy = nullptr;
  const Request* request = nullptr;
  Response* response = nullptr;
  size_t read_offset = 0;
  std::exception_ptr sink_error;
  bool streaming_started = false;
};

size_t OnHeader(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * count;
  const std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    // A new status line (after "100 Continue"): the headers collected so far belong to the old one.
    t->response->headers.clear();
    return len;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers[Lower(line.substr(0, colon))] = std::string(Trim(line.substr(colon + 1)));
  }
  return len;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * count;
  long status = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (t->request->sink != nullptr && status >= 200 && status < 300) {
    if (!t->streaming_started && t->request->stream_headers != nullptr) {
      *t->request->stream_headers = t->response->headers;
    }
    t->streaming_started = true;
    try {
      (*t->request->sink)(std::string_view(data, len));
    } catch (...) {
      // Exceptions must not cross libcurl's C frames: park it, abort the transfer, rethrow later.
      t->sink_error = std::current_exception();
      return 0;
    }
  } else {
    t->response->body.append(data, len);
  }
  return len;
}

size_t OnRead(char* out, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view body = t->request->body;
  const size_t n = std::min(size * count, body.size() - t->read_offset);
  std::copy_n(body.data() + t->read_offset, n, out);
  t->read_offset += n;
  return n;
}

// libcurl rewinds the body when it must resend it (e.g. a reused connection turned out dead).
int OnSeek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<size_t>(offset) > t->request->body.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->read_offset = static_cast<size_t>(offset);
  return CURL_SEEKFUNC_OK;
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

std::string CurlCodeName(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return "CURLE_COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT:
      return "CURLE_COULDNT_CONNECT";
    case CURLE_OPERATION_TIMEDOUT:
      return "CURLE_OPERATION_TIMEDOUT";
    case CURLE_SEND_ERROR:
      return "CURLE_SEND_ERROR";
    case CURLE_RECV_ERROR:
      return "CURLE_RECV_ERROR";
    case CURLE_GOT_NOTHING:
      return "CURLE_GOT_NOTHING";
    case CURLE_PARTIAL_FILE:
      return "CURLE_PARTIAL_FILE";
    case CURLE_SSL_CONNECT_ERROR:
      return "CURLE_SSL_CONNECT_ERROR";
    case CURLE_URL_MALFORMAT:
      return "CURLE_URL_MALFORMAT";
    default:
      return "CURLE_" + std::to_string(static_cast<int>(rc));
  }
}

bool IsRetryableCurlCode(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

std::string HostOf(const std::string& endpoint) {
  const auto scheme_end = endpoint.find("://");
  if (scheme_end == std::string::npos) {
    throw std::invalid_argument("s3: endpoint must look like http://host:port, got '" + endpoint + "'");
  }
  const std::string scheme = Lower(endpoint.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") {
    throw std::invalid_argument("s3: endpoint scheme must be http or https, got '" + endpoint + "'");
  }
  const std::string rest = endpoint.substr(scheme_end + 3);
  if (rest.empty() || rest.find('/') != std::string::npos) {
    throw std::invalid_argument("s3: endpoint must be scheme://host[:port] without a path, got '" + endpoint +
                                "'");
  }
  return rest;
}

}  // namespace

const std::string& Response::Header(const std::string& lower_name) const {
  static const std::string kEmpty;
  const auto it = headers.find(lower_name);
  return it == headers.end() ? kEmpty : it->second;
}

std::string Describe(const Request& request) {
  std::string out = request.method + " " + request.bucket;
  if (!request.key.empty()) out += "/" + request.key;
  // Sub-resources tell operations apart (?uploads, ?uploadId=..); the values would only add noise.
  std::string flags;
  for (const auto& [name, value] : request.query) {
    if (name == "uploads" || name == "uploadId" || name == "list-type")
      flags += (flags.empty() ? "?" : "&") + name;
  }
  return out + flags;
}

std::string StripQuotes(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

bool IsRetryable(const std::exception& e) {
  const auto* s3 = dynamic_cast<const S3Error*>(&e);
  return s3 != nullptr && s3->retryable();
}

S3Error ErrorFromResponse(const std::string& operation, const Response& response) {
  S3Error::Details d;
  d.operation = operation;
  d.http_status = response.status;
  d.request_id = response.Header("x-amz-request-id");
  pugi::xml_document doc;
  if (!response.body.empty() && doc.load_buffer(response.body.data(), response.body.size())) {
    const pugi::xml_node error = doc.child("Error");
    d.code = error.child_value("Code");
    d.message = error.child_value("Message");
    if (d.request_id.empty()) d.request_id = error.child_value("RequestId");
  }
  if (d.code.empty()) d.code = response.Header("x-minio-error-code");
  if (d.message.empty()) d.message = response.Header("x-minio-error-desc");
  if (d.code.empty()) {
    switch (response.status) {
      case 404:
        d.code = "NotFound";
        break;
      case 403:
        d.code = "Forbidden";
        break;
      case 412:
        d.code = "PreconditionFailed";
        break;
      case 416:
        d.code = "InvalidRange";
        break;
      default:
        d.code = "HTTP" + std::to_string(response.status);
        break;
    }
  }
  if (d.message.empty()) {
    d.message = response.body.empty() ? "no error details in the response" : response.body.substr(0, 200);
  }
  d.kind = ClassifyS3Error(response.status, d.code);
  return S3Error(std::move(d));
}

Transport::Transport(S3Config config) : config_(std::move(config)) {
  while (!config_.endpoint.empty() && config_.endpoint.back() == '/') config_.endpoint.pop_back();
  host_ = HostOf(config_.endpoint);
  if (config_.region.empty()) throw std::invalid_argument("s3: region must be set");
  if (config_.access_key.empty() || config_.secret_key.empty()) {
    throw std::invalid_argument("s3: access_key and secret_key must be set");
  }
  // curl_global_init is not thread-safe with every TLS backend; do it once, never clean up.
  std::call_once(g_curl_init, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("s3: curl_global_init failed");
  });
}

Transport::~Transport() = default;

std::unique_ptr<Transport::Handle> Transport::Acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      auto handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  return std::make_unique<Handle>();
}

void Transport::Release(std::unique_ptr<Handle> handle) {
  std::lock_guard lock(mu_);
  if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(handle));
}

Response Transport::Perform(const Request& request) {
  const std::string operation = Describe(request);
  for (const auto& [name, value] : request.headers) {
    if (value.find_first_of("\r\n") != std::string::npos ||
        name.find_first_of("\r\n:") != std::string::npos) {
      throw std::invalid_argument("s3: " + operation + ": header '" + name +
                                  "' contains a line break or colon");
    }
  }

  const std::string path = sigv4::CanonicalPath(request.bucket, request.key);
  const std::string query = sigv4::CanonicalQuery(request.query);
  const std::string url = config_.endpoint + path + (query.empty() ? "" : "?" + query);
  const std::string payload_hash =
      request.unsigned_payload
          ? std::string("UNSIGNED-PAYLOAD")
          : crypto::Hex(request.body_sha256 ? *request.body_sha256 : crypto::Sha256Of(request.body));

  sigv4::Headers headers = request.headers;
  headers.emplace_back("x-amz-content-sha256", payload_hash);

  // curl 7.88 signs wrongly when header names share a prefix (see CurlMisSortsHeaders) and cannot send
  // an empty header value through its signer; sign those requests here. The rest use curl's signer.
  sigv4::Headers curl_view = headers;
  curl_view.emplace_back("host", host_);
  curl_view.emplace_back("x-amz-date", "");
  const bool self_sign = sigv4::CurlMisSortsHeaders(curl_view) ||
                         std::any_of(headers.begin(), headers.end(),
                                     [](const auto& h) { return sigv4::TrimValue(h.second).empty(); });
  if (self_sign) {
    const std::string timestamp = sigv4::AmzTimestamp(std::chrono::system_clock::now());
    headers.emplace_back("host", host_);
    headers.emplace_back("x-amz-date", timestamp);
    const sigv4::SigningInput input{request.method,
                                    path,
                                    query,
                                    headers,
                                    payload_hash,
                                    config_.region,
                                    "s3",
                                    timestamp,
                                    config_.access_key,
                                    config_.secret_key};
    headers.emplace_back("authorization", sigv4::Authorization(input));
  }

  Slist header_list;
  for (const auto& [name, value] : headers) {
    // "name;" is curl's spelling for a header with an empty value ("name:" would delete it).
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    curl_slist* next = curl_slist_append(header_list.get(), line.c_str());
    if (next == nullptr) throw std::bad_alloc();
    (void)header_list.release();
    header_list.reset(next);
  }

  auto handle = Acquire();
  struct Returner {
    Transport* self;
    std::unique_ptr<Handle>& handle;
    ~Returner() { self->Release(std::move(handle)); }
  } returner{this, handle};

  CURL* h = handle->easy;
  curl_easy_reset(h);
  handle->error[0] = '\0';
  Response response;
  response.body.reserve(request.expected_body_bytes);
  Transfer transfer{h, &request, &response, 0, nullptr, false};

  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);  // never let curl rewrite "/./" or "/../" inside keys
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);    // required for timeouts in multi-threaded programs
  curl_easy_setopt(h, CURLOPT_USERAGENT, "rainbow-s3/0.1");
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, handle->error);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout.count()));
  if (!config_.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config_.ca_file.c_str());
  if (config_.request_timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout.count()));
  }
  if (config_.stall_timeout.count() > 0) {
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, static_cast<long>(config_.stall_timeout.count()));
  }
  // Larger transfer buffers than curl's defaults (16 KiB in, 64 KiB out): fewer callbacks and
  // socket calls per MiB for part-sized bodies.
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L << 10);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &transfer);

  const std::string sigv4_param = "aws:amz:" + config_.region + ":s3";
  if (!self_sign) {
    curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4_param.c_str());
    curl_easy_setopt(h, CURLOPT_USERNAME, config_.access_key.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, config_.secret_key.c_str());
  }

  if (request.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &OnRead);
    curl_easy_setopt(h, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &OnSeek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &transfer);
    // curl sends "Expect: 100-continue" with bodies over 1 MiB and waits for the server's interim
    // response before sending the body: a round trip per part. Send the body at once instead (the
    // header stays: removing it would change the headers curl signs).
    curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
  } else if (request.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.empty() ? "" : request.body.data());
  } else if (request.method == "DELETE") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
  } else {
    throw std::invalid_argument("s3: unsupported HTTP method " + request.method);
  }

  const CURLcode rc = curl_easy_perform(h);
  if (transfer.sink_error) std::rethrow_exception(transfer.sink_error);
  if (rc != CURLE_OK) {
    S3Error::Details d;
    d.kind = IsRetryableCurlCode(rc) ? S3ErrorKind::kRetryable : S3ErrorKind::kPermanent;
    d.code = CurlCodeName(rc);
    d.message = std::string(curl_easy_strerror(rc)) + (handle->error[0] != '\0' ? ": " : "") + handle->error;
    d.operation = operation;
    throw S3Error(std::move(d));
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status < 200 || response.status >= 300) throw ErrorFromResponse(operation, response);
  return response;
}

Response Transport::Execute(const Request& request) {
  return retry::WithRetry(
      config_.retry, [&] { return Perform(request); },
      [](const std::exception& e) { return IsRetryable(e); });
}

}  // namespace rainbow::s3::internal
