// Security of every hop, against the real binaries and servers of the test stack: TLS and mTLS on the
// gRPC servers (a plaintext or unknown client is refused; a server certificate, a client CA and a
// client's own certificate replaced on disk are used without a restart), bearer tokens with scopes on
// every RPC of every service and every REST route (the RPCs are enumerated from the proto descriptors,
// so a new RPC without a check fails here), client certificates standing in for tokens, the
// converter's bucket limits, the files flow over mTLS with a token, the ops endpoints open to probes
// without a token, and no secret in any log line or /readyz or /metrics body.
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/sha256.hpp"
#include "common/pg/connection.hpp"
#include "common/s3/client.hpp"
#include "common/security/grpc_security.hpp"
#include "grpc/health/v1/health.grpc.pb.h"
#include "rainbow/cdc_producer.grpc.pb.h"
#include "rainbow/loader.grpc.pb.h"
#include "rainbow/order_api.grpc.pb.h"
#include "rainbow/s3_converter.grpc.pb.h"
#include "rainbow/state_tracker.grpc.pb.h"
#include "tests/support/files_stack.hpp"
#include "tests/support/test_pki.hpp"

namespace {

using namespace std::chrono_literals;
using rainbow::files_test::Service;
using rainbow::files_test::SharedEnv;
using rainbow::testing::StackEnv;
using rainbow::testing::TestPki;
using rainbow::testing::UniqueName;

// The scope each RPC needs: the test's own table, not the code's, so a wrong mapping fails.
const std::map<std::string, std::string> kScopeOf = {
    {"/rainbow.order.v1.OrderService/CreateOrder", "orders:write"},
    {"/rainbow.order.v1.OrderService/GetOrder", "orders:read"},
    {"/rainbow.order.v1.OrderService/ListOrders", "orders:read"},
    {"/rainbow.cdc.v1.CdcStatusService/GetStatus", "cdc:read"},
    {"/rainbow.cdc.v1.CdcStatusService/Resnapshot", "cdc:admin"},
    {"/rainbow.files.v1.FileStateService/Register", "files:write"},
    {"/rainbow.files.v1.FileStateService/Claim", "files:write"},
    {"/rainbow.files.v1.FileStateService/Heartbeat", "files:write"},
    {"/rainbow.files.v1.FileStateService/Complete", "files:write"},
    {"/rainbow.files.v1.FileStateService/Fail", "files:write"},
    {"/rainbow.files.v1.FileStateService/Get", "files:read"},
    {"/rainbow.files.v1.FileStateService/List", "files:read"},
    {"/rainbow.files.v1.FileStateService/Stats", "files:read"},
    {"/rainbow.files.v1.FileStateService/Redrive", "files:admin"},
    {"/rainbow.converter.v1.ConverterService/Convert", "files:convert"},
    {"/rainbow.loader.v1.LoaderService/GetStatus", "loader:read"},
    {"/rainbow.loader.v1.LoaderService/Reconcile", "loader:admin"},
    {"/rainbow.loader.v1.LoaderService/Backfill", "loader:admin"},
};

std::string RandomSecret(const std::string& label) {
  std::random_device rd;
  std::string s = "tok-" + label + "-";
  for (int i = 0; i < 4; ++i) s += std::to_string(rd());
  for (char& c : s) {
    if (c == ':') c = '_';
  }
  return s;
}

// The PKI, the tokens file and the secrets every test shares (made once).
struct World {
  TestPki pki;
  TestPki::Pair ca, rogue_ca, server, client, stranger, rogue_client;
  std::map<std::string, std::string> token_of;  // scope (or "*") -> secret
  std::string tokens_file;
  std::string worker_token_file;  // the converter's token (files:write), as a _FILE secret

  World() {
    ca = pki.MakeCa("ca");
    rogue_ca = pki.MakeCa("rogue-ca");
    server = pki.MakeLeaf(ca, "server", "rainbow-server");
    client = pki.MakeLeaf(ca, "client", "converter-worker");  // listed in the tokens file (mtls)
    stranger = pki.MakeLeaf(ca, "stranger", "stranger");      // a good certificate nobody listed
    rogue_client = pki.MakeLeaf(rogue_ca, "rogue-client", "converter-worker");
    std::string text = "# test tokens\n";
    std::set<std::string> scopes;
    for (const auto& [method, scope] : kScopeOf) scopes.insert(scope);
    scopes.insert("nothing:here");
    for (const auto& scope : scopes) {
      token_of[scope] = RandomSecret(scope);
      text += "token " + scope + " " + scope + " " + token_of[scope] + "\n";
    }
    token_of["*"] = RandomSecret("all");
    text += "token operator * " + token_of["*"] + "\n";
    text += "mtls converter-worker files:write\n";
    tokens_file = pki.Path("tokens");
    rainbow::testing::ReplaceFile(tokens_file, text);
    worker_token_file = pki.Path("worker-token");
    rainbow::testing::ReplaceFile(worker_token_file, token_of["files:write"] + "\n");
  }

  // What a TLS server with tokens reads (mTLS when `mutual`).
  std::map<std::string, std::string> ServerEnv(bool mutual) const {
    std::map<std::string, std::string> env = {{"GRPC_TLS_CERT_FILE", server.cert},
                                              {"GRPC_TLS_KEY_FILE", server.key},
                                              {"AUTH_TOKENS_FILE", tokens_file},
                                              {"TLS_RELOAD_INTERVAL", "1s"}};
    if (mutual) env["GRPC_TLS_CLIENT_CA_FILE"] = ca.cert;
    return env;
  }

  rainbow::security::ClientConfig Client(bool with_cert, const std::string& token = "") const {
    rainbow::security::ClientConfig c;
    c.ca_file = ca.cert;
    if (with_cert) {
      c.cert_file = client.cert;
      c.key_file = client.key;
    }
    c.token = token;
    return c;
  }

  // A certificate the CA signed that the tokens file does not list: passes mTLS, grants no scope.
  rainbow::security::ClientConfig Stranger() const {
    auto c = Client(false);
    c.cert_file = stranger.cert;
    c.key_file = stranger.key;
    return c;
  }

  std::vector<std::string> Secrets() const {
    std::vector<std::string> all = {StackEnv("S3_SECRET_KEY")};
    for (const auto& [scope, secret] : token_of) all.push_back(secret);
    return all;
  }
};

World& W() {
  static World* world = new World();  // outlives every test; its directory goes with the process
  return *world;
}

// Merges `extra` over `base`.
std::map<std::string, std::string> With(std::map<std::string, std::string> base,
                                        const std::map<std::string, std::string>& extra) {
  for (const auto& [k, v] : extra) base[k] = v;
  return base;
}

// One unary call with an empty request message, the Authorization value `authorization` (none when
// empty): how every method is probed without knowing its request type.
grpc::Status RawCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
                     const std::string& authorization) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 20s);
  // Waits out a connection still being set up (a slow handshake on a busy machine) instead of failing
  // fast with UNAVAILABLE: every channel given here is one whose handshake must succeed.
  ctx.set_wait_for_ready(true);
  if (!authorization.empty()) ctx.AddMetadata("authorization", authorization);
  grpc::CompletionQueue cq;
  grpc::ByteBuffer request;  // empty: a default-valued message of any type
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  auto call = stub.PrepareUnaryCall(&ctx, method, request, &cq);
  call->StartCall();
  grpc::ByteBuffer response;
  grpc::Status status;
  call->Finish(&response, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

bool Refused(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
         (s.error_code() == grpc::StatusCode::PERMISSION_DENIED &&
          s.error_message().find("lacks scope") != std::string::npos);
}

// Every method of `service_name` (from the descriptor pool): no token, a malformed and an unknown
// token are UNAUTHENTICATED, every token without the method's scope PERMISSION_DENIED, the token with
// it (and the operator's "*") gets past authorization.
void CheckEveryMethod(const std::shared_ptr<grpc::Channel>& channel, const std::string& service_name) {
  // Descriptors register when their file's code first runs: touching one message of each file does.
  (void)rainbow::order::v1::Order::descriptor();
  (void)rainbow::cdc::v1::Status::descriptor();
  (void)rainbow::files::v1::FileRecord::descriptor();
  (void)rainbow::converter::v1::ConvertRequest::descriptor();
  (void)rainbow::loader::v1::Status::descriptor();
  const auto* service = google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service_name);
  ASSERT_NE(service, nullptr) << service_name;
  ASSERT_GT(service->method_count(), 0);
  for (int i = 0; i < service->method_count(); ++i) {
    const std::string method = "/" + service_name + "/" + service->method(i)->name();
    SCOPED_TRACE(method);
    const auto scope = kScopeOf.find(method);
    ASSERT_NE(scope, kScopeOf.end()) << "no expected scope for " << method << " in this test's table";
    EXPECT_EQ(RawCall(channel, method, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(RawCall(channel, method, "Basic dXNlcjpwYXNz").error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(RawCall(channel, method, "Bearer " + RandomSecret("unknown")).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
    for (const auto& [other, secret] : W().token_of) {
      const auto s = RawCall(channel, method, "Bearer " + secret);
      if (other == scope->second || other == "*") {
        EXPECT_FALSE(Refused(s)) << other << ": " << s.error_message();
      } else {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << other << ": " << s.error_message();
      }
    }
  }
}

// The health protocol stays open (probes carry no token).
std::string Health(const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::health::v1::Health::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  const auto s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) return "error " + std::to_string(s.error_code()) + ": " + s.error_message();
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

// True when a call completes over the channel (the handshake passed), whatever health says.
bool Handshakes(const std::shared_ptr<grpc::Channel>& channel) {
  return Health(channel).rfind("error", 0) != 0;
}

void ExpectNoSecrets(const std::string& what, const std::string& text) {
  for (const auto& secret : W().Secrets()) {
    EXPECT_EQ(text.find(secret), std::string::npos) << what << " contains a secret";
  }
}

// The ops endpoints of a service whose RPCs need tokens stay open to probes and scrapes (no token
// sent, 200 back); its logs, /readyz and /metrics are scanned for every secret of the run.
void ExpectNoSecretsIn(Service& s, const std::string& name) {
  for (const char* path : {"/readyz", "/healthz", "/metrics"}) {
    const auto [code, body] =
        rainbow::testing::HttpGet("http://127.0.0.1:" + std::to_string(s.http_port) + path);
    if (std::string(path) != "/readyz") {  // (503 when not ready, but never 401)
      EXPECT_EQ(code, 200) << name << " " << path << " without a token: " << body;
    }
    EXPECT_NE(code, 401) << name << " " << path;
    ExpectNoSecrets(name + " " + path, body);
  }
  ExpectNoSecrets(name + " logs", s.Logs());
}

// A database of the test stack's PostgreSQL for one test, dropped at its end.
struct ScratchDatabase {
  explicit ScratchDatabase(const std::string& prefix)
      : name(rainbow::testing::UniqueIdentifier(prefix)), base(StackEnv("PG_DSN")) {
    rainbow::pg::Connection c(base);
    c.Exec("CREATE DATABASE " + name);
  }
  ~ScratchDatabase() {
    try {
      rainbow::pg::Connection c(base);
      c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    } catch (const std::exception&) {
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string name;
  const std::string base;
};

std::map<std::string, std::string> TrackerEnv(const std::string& dir) {
  auto env = SharedEnv();
  env["STATE_REDIS_PREFIX"] = UniqueName("sec:{files}") + ":";
  env["STATE_ACCEPT_PREFIX"] = "raw/" + dir + "/";
  env["STATE_CONSUMER_GROUP"] = UniqueName("sec-tracker");
  env["STATE_SWEEP_INTERVAL"] = "250ms";
  return env;
}

std::map<std::string, std::string> ConverterEnv(const std::string& tracker_addr) {
  auto env = SharedEnv();
  env["CONVERTER_STATE_GRPC"] = tracker_addr;
  env["CONVERTER_WORKER_ID"] = UniqueName("sec-conv");
  env["CONVERTER_LEASE"] = "5s";
  env["CONVERTER_HEARTBEAT"] = "1s";
  env["CONVERTER_POLL_INTERVAL"] = "1s";
  return env;
}

TEST(Security, StateTrackerOverMtlsChecksEveryRpcAndClientCertificates) {
  const std::string dir = UniqueName("sec");
  Service tracker(RAINBOW_TRACKER_BIN, With(TrackerEnv(dir), W().ServerEnv(true)));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();  // /readyz needs no token
  const auto addr = tracker.grpc_addr();
  rainbow::security::ClientConfig plain;  // no CA: plaintext
  auto good = rainbow::security::Connect(addr, W().Client(true));
  ASSERT_TRUE(good->WaitForConnected(std::chrono::system_clock::now() + 10s));
  EXPECT_TRUE(Handshakes(good)) << Health(good);

  // Refused at the handshake: plaintext, no client certificate, one from another CA, and a client
  // that does not trust the server's CA.
  EXPECT_FALSE(Handshakes(rainbow::security::Connect(addr, plain)));
  EXPECT_FALSE(Handshakes(rainbow::security::Connect(addr, W().Client(false))));
  auto rogue = W().Client(false);
  rogue.cert_file = W().rogue_client.cert;
  rogue.key_file = W().rogue_client.key;
  EXPECT_FALSE(Handshakes(rainbow::security::Connect(addr, rogue)));
  auto distrust = W().Client(true);
  distrust.ca_file = W().rogue_ca.cert;
  EXPECT_FALSE(Handshakes(rainbow::security::Connect(addr, distrust)));

  // Tokens, over a certificate the CA signed but the tokens file does not list (so it grants nothing).
  auto stranger_channel = rainbow::security::Connect(addr, W().Stranger());
  CheckEveryMethod(stranger_channel, rainbow::files::v1::FileStateService::service_full_name());

  // A listed client certificate stands in for a token (with its scopes only); an unlisted one does not.
  const std::string stats = "/rainbow.files.v1.FileStateService/Stats";
  const std::string claim = "/rainbow.files.v1.FileStateService/Claim";
  EXPECT_EQ(RawCall(good, claim, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);  // past auth
  EXPECT_EQ(RawCall(good, stats, "").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(RawCall(stranger_channel, claim, "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
  // The token set on the channel (GRPC_CLIENT_TOKEN's path) is sent on every call.
  auto with_token = rainbow::security::Connect(addr, W().Client(true, W().token_of["files:read"]));
  EXPECT_TRUE(RawCall(with_token, stats, "").ok());
  ExpectNoSecretsIn(tracker, "state-tracker");
}

// The files flow across two services with every hop secured: the converter calls the tracker over
// mTLS with its token from a _FILE, and converts an upload end to end.
TEST(Security, FilesFlowRunsOverMtlsWithTokens) {
  const std::string dir = UniqueName("sec");
  Service tracker(RAINBOW_TRACKER_BIN, With(TrackerEnv(dir), W().ServerEnv(true)));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  auto conv_env = With(ConverterEnv("localhost:" + std::to_string(tracker.grpc_port)), W().ServerEnv(false));
  conv_env["GRPC_CLIENT_CA_FILE"] = W().ca.cert;
  conv_env["GRPC_CLIENT_CERT_FILE"] = W().client.cert;
  conv_env["GRPC_CLIENT_KEY_FILE"] = W().client.key;
  conv_env["GRPC_CLIENT_TOKEN_FILE"] = W().worker_token_file;
  Service converter(RAINBOW_CONVERTER_BIN, conv_env);
  ASSERT_TRUE(converter.WaitReady()) << converter.Logs();

  rainbow::s3::S3Client s3c(rainbow::files_test::S3FromEnv());
  const std::string key = dir + "/p.json";
  const std::string json = R"([{"name":"a","price":1},{"name":"b","price":2}])";
  rainbow::s3::PutOptions put;
  put.metadata["sha256"] = rainbow::crypto::Sha256Hex(json);
  s3c.PutObject(rainbow::s3::BucketName("raw"), rainbow::s3::ObjectKey(key), json, put);

  auto reader = rainbow::files::v1::FileStateService::NewStub(
      rainbow::security::Connect(tracker.grpc_addr(), W().Client(true, W().token_of["files:read"])));
  const auto rec = rainbow::files_test::WaitForState(*reader, "raw", key, rainbow::files::v1::COMPLETED, 60s);
  ASSERT_TRUE(rec && rec->state() == rainbow::files::v1::COMPLETED)
      << (rec ? rec->DebugString() : "no record") << tracker.Logs() << converter.Logs();
  EXPECT_EQ(rec->sha256(),
            rainbow::crypto::Sha256Hex(s3c.GetObject(rainbow::s3::BucketName("converted"),
                                                     rainbow::s3::ObjectKey(rec->output_key()))));

  // Convert: token-checked, and only the configured buckets, whatever the caller names.
  auto conv = rainbow::security::Connect(converter.grpc_addr(), W().Client(false));
  CheckEveryMethod(conv, rainbow::converter::v1::ConverterService::service_full_name());
  auto stub = rainbow::converter::v1::ConverterService::NewStub(
      rainbow::security::Connect(converter.grpc_addr(), W().Client(false, W().token_of["files:convert"])));
  for (const auto& [bucket, output] : std::vector<std::pair<std::string, std::string>>{
           {"converted", ""}, {"lake", ""}, {"raw", "raw"}, {"raw", "elsewhere"}}) {
    grpc::ClientContext ctx;
    rainbow::converter::v1::ConvertRequest req;
    req.set_bucket(bucket);
    req.set_key(key);
    req.set_output_bucket(output);
    rainbow::converter::v1::ConvertResponse resp;
    const auto s = stub->Convert(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << bucket << " -> " << output;
    EXPECT_NE(s.error_message().find("CONVERTER_"), std::string::npos) << s.error_message();
  }
  {  // the configured pair works
    grpc::ClientContext ctx;
    rainbow::converter::v1::ConvertRequest req;
    req.set_bucket("raw");
    req.set_key(key);
    rainbow::converter::v1::ConvertResponse resp;
    EXPECT_TRUE(stub->Convert(&ctx, req, &resp).ok());
  }
  ExpectNoSecretsIn(tracker, "state-tracker");
  ExpectNoSecretsIn(converter, "s3-converter");
}

// A certificate replaced on disk (as a Kubernetes secret rotation does) is served to new connections
// by the same process, within the reload interval.
TEST(Security, CertificateReplacedOnDiskIsServedWithoutRestart) {
  TestPki pki;
  const auto old_ca = pki.MakeCa("old-ca");
  const auto new_ca = pki.MakeCa("new-ca");
  const auto old_leaf = pki.MakeLeaf(old_ca, "old", "rainbow-server");
  const auto new_leaf = pki.MakeLeaf(new_ca, "new", "rainbow-server");
  const std::string cert = pki.Path("live.pem");
  const std::string key = pki.Path("live.key");
  rainbow::testing::ReplaceFile(cert, rainbow::testing::ReadWholeFile(old_leaf.cert));
  rainbow::testing::ReplaceFile(key, rainbow::testing::ReadWholeFile(old_leaf.key));

  auto env = TrackerEnv(UniqueName("sec"));
  env["GRPC_TLS_CERT_FILE"] = cert;
  env["GRPC_TLS_KEY_FILE"] = key;
  env["TLS_RELOAD_INTERVAL"] = "1s";
  Service tracker(RAINBOW_TRACKER_BIN, env);
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  rainbow::security::ClientConfig trusts_old, trusts_new;
  trusts_old.ca_file = old_ca.cert;
  trusts_new.ca_file = new_ca.cert;
  // A fresh channel per probe (with its own subchannel): a new handshake each time.
  grpc::ChannelArguments fresh;
  fresh.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const auto probe = [&](const rainbow::security::ClientConfig& c) {
    return Handshakes(rainbow::security::Connect(tracker.grpc_addr(), c, fresh));
  };
  ASSERT_TRUE(probe(trusts_old));
  ASSERT_FALSE(probe(trusts_new));

  rainbow::testing::ReplaceFile(key, rainbow::testing::ReadWholeFile(new_leaf.key));
  rainbow::testing::ReplaceFile(cert, rainbow::testing::ReadWholeFile(new_leaf.cert));
  bool seen = false;
  for (int i = 0; i < 40 && !(seen = probe(trusts_new)); ++i) std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(seen) << tracker.Logs();
  EXPECT_FALSE(probe(trusts_old));
  EXPECT_FALSE(tracker.process->Wait(0ms).has_value()) << "the tracker restarted";
}

// The client CA of an mTLS server, rotated on disk (a Kubernetes secret update): clients of the new CA
// get in and those of the old one no longer do, without a restart.
TEST(Security, ClientCaReplacedOnDiskIsUsedWithoutRestart) {
  TestPki pki;
  const auto server_ca = pki.MakeCa("server-ca");
  const auto server = pki.MakeLeaf(server_ca, "server", "rainbow-server");
  const auto old_ca = pki.MakeCa("old-client-ca");
  const auto new_ca = pki.MakeCa("new-client-ca");
  const auto old_client = pki.MakeLeaf(old_ca, "old-client", "converter-worker");
  const auto new_client = pki.MakeLeaf(new_ca, "new-client", "converter-worker");
  const std::string client_ca = pki.Path("live-client-ca.pem");
  rainbow::testing::ReplaceFile(client_ca, rainbow::testing::ReadWholeFile(old_ca.cert));

  auto env = TrackerEnv(UniqueName("sec"));
  env["GRPC_TLS_CERT_FILE"] = server.cert;
  env["GRPC_TLS_KEY_FILE"] = server.key;
  env["GRPC_TLS_CLIENT_CA_FILE"] = client_ca;
  env["TLS_RELOAD_INTERVAL"] = "1s";
  Service tracker(RAINBOW_TRACKER_BIN, env);
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  const auto client_of = [&](const TestPki::Pair& leaf) {
    rainbow::security::ClientConfig c;
    c.ca_file = server_ca.cert;
    c.cert_file = leaf.cert;
    c.key_file = leaf.key;
    return c;
  };
  grpc::ChannelArguments fresh;
  fresh.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  const auto probe = [&](const TestPki::Pair& leaf) {
    return Handshakes(rainbow::security::Connect(tracker.grpc_addr(), client_of(leaf), fresh));
  };
  ASSERT_TRUE(probe(old_client));
  ASSERT_FALSE(probe(new_client));

  rainbow::testing::ReplaceFile(client_ca, rainbow::testing::ReadWholeFile(new_ca.cert));
  bool seen = false;
  for (int i = 0; i < 40 && !(seen = probe(new_client)); ++i) std::this_thread::sleep_for(250ms);
  EXPECT_TRUE(seen) << tracker.Logs();
  EXPECT_FALSE(probe(old_client));
  EXPECT_FALSE(tracker.process->Wait(0ms).has_value()) << "the tracker restarted";
}

// The converter's client certificate, replaced on disk (a rotated Kubernetes secret): while it holds
// one the tracker's CA did not sign, its claims are refused and a file waits PENDING; once the right
// one is in place, the same converter process presents it and the file completes.
TEST(Security, ClientCertificateReplacedOnDiskIsPresentedWithoutRestart) {
  const std::string dir = UniqueName("sec");
  Service tracker(RAINBOW_TRACKER_BIN, With(TrackerEnv(dir), W().ServerEnv(true)));
  ASSERT_TRUE(tracker.WaitReady()) << tracker.Logs();
  TestPki pki;
  const std::string cert = pki.Path("worker.pem");
  const std::string key = pki.Path("worker.key");
  rainbow::testing::ReplaceFile(cert, rainbow::testing::ReadWholeFile(W().rogue_client.cert));
  rainbow::testing::ReplaceFile(key, rainbow::testing::ReadWholeFile(W().rogue_client.key));
  auto conv_env = With(ConverterEnv("localhost:" + std::to_string(tracker.grpc_port)), W().ServerEnv(false));
  conv_env["GRPC_CLIENT_CA_FILE"] = W().ca.cert;
  conv_env["GRPC_CLIENT_CERT_FILE"] = cert;
  conv_env["GRPC_CLIENT_KEY_FILE"] = key;
  conv_env["GRPC_CLIENT_TOKEN_FILE"] = W().worker_token_file;
  Service converter(RAINBOW_CONVERTER_BIN, conv_env);

  rainbow::s3::S3Client s3c(rainbow::files_test::S3FromEnv());
  const std::string file = dir + "/rotated.json";
  const std::string json = R"([{"name":"a","price":1}])";
  rainbow::s3::PutOptions put;
  put.metadata["sha256"] = rainbow::crypto::Sha256Hex(json);
  s3c.PutObject(rainbow::s3::BucketName("raw"), rainbow::s3::ObjectKey(file), json, put);
  auto reader = rainbow::files::v1::FileStateService::NewStub(
      rainbow::security::Connect(tracker.grpc_addr(), W().Client(true, W().token_of["files:read"])));
  // The window: registered (from the bucket's notification) and not claimed, for 5 s.
  const auto pending =
      rainbow::files_test::WaitForState(*reader, "raw", file, rainbow::files::v1::PENDING, 30s);
  ASSERT_TRUE(pending && pending->state() == rainbow::files::v1::PENDING) << tracker.Logs();
  std::this_thread::sleep_for(5s);
  const auto still = rainbow::files_test::WaitForState(*reader, "raw", file, rainbow::files::v1::PENDING, 1s);
  ASSERT_TRUE(still && still->state() == rainbow::files::v1::PENDING)
      << "claimed with a certificate the tracker's CA did not sign\n"
      << (still ? still->DebugString() : "") << converter.Logs();

  rainbow::testing::ReplaceFile(key, rainbow::testing::ReadWholeFile(W().client.key));
  rainbow::testing::ReplaceFile(cert, rainbow::testing::ReadWholeFile(W().client.cert));
  const auto rec =
      rainbow::files_test::WaitForState(*reader, "raw", file, rainbow::files::v1::COMPLETED, 90s);
  EXPECT_TRUE(rec && rec->state() == rainbow::files::v1::COMPLETED)
      << (rec ? rec->DebugString() : "no record") << converter.Logs();
  EXPECT_FALSE(converter.process->Wait(0ms).has_value()) << "the converter restarted";
  ExpectNoSecretsIn(converter, "s3-converter");
}

TEST(Security, OrderApiChecksEveryRpcAndRoute) {
  const ScratchDatabase scratch("sec_orders");
  const std::string& db = scratch.name;
  const std::string& base = scratch.base;
  const int rest_port = rainbow::testing::FreePort();
  auto env = W().ServerEnv(false);
  env["PG_DSN"] = base + " dbname=" + db;
  env["ORDER_API_REST_ADDR"] = "127.0.0.1:" + std::to_string(rest_port);
  env["LOG_LEVEL"] = "info";
  Service api(RAINBOW_ORDER_API_BIN, env);
  ASSERT_TRUE(api.WaitReady()) << api.Logs();

  auto channel = rainbow::security::Connect(api.grpc_addr(), W().Client(false));
  EXPECT_TRUE(Handshakes(channel));
  EXPECT_FALSE(Handshakes(rainbow::security::Connect(api.grpc_addr(), {})));  // plaintext refused
  CheckEveryMethod(channel, rainbow::order::v1::OrderService::service_full_name());

  // REST (plaintext here: its TLS is terminated in front of it, see the README).
  const std::string url = "http://127.0.0.1:" + std::to_string(rest_port);
  const std::string ca;
  EXPECT_EQ(rainbow::testing::HttpCall("GET", url + "/ping", "", {}, ca).status, 200);  // open: a probe
  const auto bearer = [](const std::string& scope) { return "Authorization: Bearer " + W().token_of[scope]; };
  struct Route {
    std::string method, path, scope;
  };
  for (const auto& r : std::vector<Route>{{"GET", "/", "orders:read"},
                                          {"GET", "/api/v1/orders", "orders:read"},
                                          {"GET", "/api/v1/orders/1", "orders:read"},
                                          {"POST", "/api/v1/orders", "orders:write"}}) {
    SCOPED_TRACE(r.method + " " + r.path);
    const std::string body = r.method == "POST" ? "{}" : "";
    const std::vector<std::string> json = {"Content-Type: application/json"};
    auto none = rainbow::testing::HttpCall(r.method, url + r.path, body, json, ca);
    EXPECT_EQ(none.status, 401);
    EXPECT_NE(none.headers["www-authenticate"].find("Bearer"), std::string::npos);
    EXPECT_EQ(rainbow::testing::HttpCall(r.method, url + r.path, body,
                                         {json[0], "Authorization: Bearer " + RandomSecret("x")}, ca)
                  .status,
              401);
    // Malformed credentials, one of them around a valid token, are no token at all.
    for (const std::string& malformed :
         {std::string("Authorization: Basic ") + W().token_of[r.scope], std::string("Authorization: Bearer"),
          "Authorization: Bearer " + W().token_of[r.scope] + " trailing",
          "Authorization: " + W().token_of[r.scope]}) {
      EXPECT_EQ(rainbow::testing::HttpCall(r.method, url + r.path, body, {json[0], malformed}, ca).status,
                401)
          << malformed.substr(0, 21);
    }
    if (r.method == "GET") {  // the same route by HEAD: not a way around the token
      const long head = rainbow::testing::HttpCall("HEAD", url + r.path, "", {}, ca).status;
      EXPECT_EQ(head, 401) << "HEAD without a token";
    }
    const std::string other = r.scope == "orders:read" ? "orders:write" : "orders:read";
    auto wrong = rainbow::testing::HttpCall(r.method, url + r.path, body, {json[0], bearer(other)}, ca);
    EXPECT_EQ(wrong.status, 403);
    EXPECT_NE(wrong.headers["www-authenticate"].find("insufficient_scope"), std::string::npos);
    EXPECT_EQ(rainbow::testing::HttpCall(r.method, url + r.path, body, {json[0], bearer("nothing:here")}, ca)
                  .status,
              403);
    const long allowed =
        rainbow::testing::HttpCall(r.method, url + r.path, body, {json[0], bearer(r.scope)}, ca).status;
    EXPECT_NE(allowed, 401);
    EXPECT_NE(allowed, 403);
    EXPECT_NE(allowed, 0);
  }
  ExpectNoSecretsIn(api, "order-api");
}

TEST(Security, CdcProducerChecksEveryRpc) {
  const std::string name = rainbow::testing::UniqueIdentifier("sec_cdc");
  const std::string dsn = StackEnv("PG_DSN");
  {
    rainbow::pg::Connection c(dsn);
    c.Exec("CREATE SCHEMA " + name);
    c.Exec("CREATE TABLE " + name + ".t (id bigint PRIMARY KEY)");
  }
  auto env = W().ServerEnv(true);
  env.merge(rainbow::testing::KafkaTopicEnv());
  env["PG_DSN"] = dsn;
  env["KAFKA_BROKERS"] = StackEnv("KAFKA_BROKERS");
  env["CDC_SCHEMAS"] = name;
  env["CDC_SLOT"] = name;
  env["CDC_PUBLICATION"] = name;
  env["CDC_TOPIC_PREFIX"] = name + ".public";
  env["CDC_TOPIC_PARTITIONS"] = "1";
  {
    Service cdc(RAINBOW_CDC_BIN, env);
    ASSERT_TRUE(cdc.WaitReady()) << cdc.Logs();
    CheckEveryMethod(rainbow::security::Connect(cdc.grpc_addr(), W().Stranger()),
                     rainbow::cdc::v1::CdcStatusService::service_full_name());
    ExpectNoSecretsIn(cdc, "cdc-producer");
    cdc.process->Signal(SIGTERM);
    cdc.process->Wait(30s);
  }
  try {
    rainbow::pg::Connection c(dsn);
    c.Exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1",
           {name});
    c.Exec("DROP PUBLICATION IF EXISTS " + name);
    c.Exec("DROP SCHEMA IF EXISTS " + name + " CASCADE");
    c.Exec("DELETE FROM rainbow_cdc.state WHERE slot_name = $1", {name});
  } catch (const std::exception&) {
  }
}

TEST(Security, LoaderChecksEveryRpc) {
  const ScratchDatabase scratch("sec_loader");
  const std::string& db = scratch.name;
  const std::string& base = scratch.base;
  auto env = With(SharedEnv(), W().ServerEnv(false));
  env["PG_DSN"] = base + " dbname=" + db;
  env["LOADER_TOPIC_PATTERN"] = "^" + db + "\\.public\\.[a-z_]+$";
  env["LOADER_GROUP"] = db;
  env["LOADER_LAKE"] = "false";
  Service loader(RAINBOW_LOADER_BIN, env);
  ASSERT_TRUE(loader.WaitReady()) << loader.Logs();
  CheckEveryMethod(rainbow::security::Connect(loader.grpc_addr(), W().Client(false)),
                   rainbow::loader::v1::LoaderService::service_full_name());
  ExpectNoSecretsIn(loader, "loader");
}

}  // namespace
