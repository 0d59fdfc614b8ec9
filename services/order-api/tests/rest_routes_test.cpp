// The REST routes as plain functions: a request struct in, a response out; no server, no database
// (every case here is answered before OrderService would reach PostgreSQL).
#include "services/order-api/src/rest_routes.hpp"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <nlohmann/json.hpp>

#include "common/pg/pool.hpp"
#include "services/order-api/src/metrics.hpp"
#include "services/order-api/src/order_store.hpp"

namespace rainbow::order {
namespace {

class Routes : public ::testing::Test {
 protected:
  HttpResponse Call(std::string method, std::string path, std::string query = "") {
    HttpRequest request;
    request.method = std::move(method);
    request.path = std::move(path);
    request.query = std::move(query);
    return Call(request);
  }
  HttpResponse Call(const HttpRequest& request) { return routes_.Handle(request, "req-1", route_); }

  prometheus::Registry registry_;
  OrderMetrics metrics_{registry_};
  pg::Pool pool_{{"host=127.0.0.1 port=1 dbname=none connect_timeout=1", 1}};  // never connected here
  OrderStore store_{pool_};
  OrderService service_{store_, Limits{}, metrics_};
  RestRoutes routes_{service_, 1024, "1.2.3"};
  std::string route_;
};

TEST_F(Routes, PingAndRoot) {
  auto r = Call("GET", "/ping");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"message":"pong"})");
  EXPECT_EQ(route_, "/ping");
  r = Call("GET", "/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body).value("version", ""), "1.2.3");
}

TEST_F(Routes, UnknownRouteAndMethod) {
  auto r = Call("GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(route_, "unmatched");
  EXPECT_EQ(nlohmann::json::parse(r.body).value("requestId", ""), "req-1");
  r = Call("GET", "/api/v1/orders/1/lines");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(route_, "unmatched");
  r = Call("DELETE", "/api/v1/orders");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, POST"}));
  r = Call("PUT", "/api/v1/orders/7");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(route_, "/api/v1/orders/:id");
}

TEST_F(Routes, AnIdThatNamesNoOrderIs404) {
  for (const char* id : {"abc", "0", "-1", "99999999999999999999"}) {
    const auto r = Call("GET", std::string("/api/v1/orders/") + id);
    EXPECT_EQ(r.status, 404) << id;
    EXPECT_EQ(nlohmann::json::parse(r.body).value("field", ""), "id") << id;
  }
}

TEST_F(Routes, ListRejectsBadQueries) {
  EXPECT_EQ(Call("GET", "/api/v1/orders", "customer=5").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/orders", "limit=5&limit=6").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/orders", "limit=abc").status, 400);
  EXPECT_EQ(Call("GET", "/api/v1/orders", "customerId=1&customer_id=1").status, 400);
  const auto r = Call("GET", "/api/v1/orders", "customerId=0");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(nlohmann::json::parse(r.body).value("field", ""), "customerId");
}

TEST_F(Routes, CreateChecksTypeAndSizeBeforeParsing) {
  HttpRequest request;
  request.method = "POST";
  request.path = "/api/v1/orders";
  request.content_type = "text/plain";
  EXPECT_EQ(Call(request).status, 415);
  request.content_type = "application/json; charset=utf-8";
  request.content_length = 4096;
  EXPECT_EQ(Call(request).status, 413);
  request.content_length = -1;  // chunked: the limit applies while reading
  request.read_body = [](std::string& out, size_t max) {
    out.assign(max + 1, ' ');
    return false;
  };
  EXPECT_EQ(Call(request).status, 413);
  request.read_body = [](std::string& out, size_t) {
    out = "{not json";
    return true;
  };
  EXPECT_EQ(Call(request).status, 400);
}

TEST(JsonMediaType, AcceptsJsonAndPlusJson) {
  EXPECT_TRUE(IsJsonMediaType("application/json"));
  EXPECT_TRUE(IsJsonMediaType(" Application/JSON ; charset=utf-8"));
  EXPECT_TRUE(IsJsonMediaType("application/vnd.api+json"));
  EXPECT_FALSE(IsJsonMediaType("text/json"));
  EXPECT_FALSE(IsJsonMediaType("application/+json"));
}

}  // namespace
}  // namespace rainbow::order
