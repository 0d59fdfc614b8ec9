// order-api logic that needs no server: money, validation, the REST body codec, the feed's columns.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "services/order-api/src/config.hpp"
#include "services/order-api/src/database_check.hpp"
#include "services/order-api/src/order_json.hpp"
#include "services/order-api/src/request_id.hpp"
#include "services/order-api/src/seed_loader.hpp"
#include "services/order-api/src/url_path.hpp"
#include "services/order-api/src/validation.hpp"
#include "services/order-api/src/work_queue.hpp"

namespace rainbow::order {
namespace {

ApiError ErrorOf(const ApiResult<CreateOrderInput>& o) {
  EXPECT_TRUE(std::holds_alternative<ApiError>(o));
  return std::holds_alternative<ApiError>(o) ? std::get<ApiError>(o) : ApiError{};
}

TEST(Money, FormatsAndParsesCentsExactly) {
  EXPECT_EQ(FormatCents(0), "0.00");
  EXPECT_EQ(FormatCents(5), "0.05");
  EXPECT_EQ(FormatCents(123456), "1234.56");
  EXPECT_EQ(FormatCents(-250), "-2.50");
  EXPECT_EQ(ParseCents("12.5"), 1250);
  EXPECT_EQ(ParseCents("12.50"), 1250);
  EXPECT_EQ(ParseCents("7"), 700);
  EXPECT_EQ(ParseCents("-0.01"), -1);
  EXPECT_FALSE(ParseCents("1.234").has_value());
  EXPECT_FALSE(ParseCents("abc").has_value());
  EXPECT_FALSE(ParseCents("").has_value());
}

TEST(OrderTotals, AreSumsOfQuantityTimesUnitValues) {
  Order o;
  o.lines = {{1, 10, 3, 1999, 200, 5}, {2, 11, 1, 500, 0, std::nullopt}};
  EXPECT_EQ(o.total_cents(), 3 * 1999 + 500);
  EXPECT_EQ(o.discount_cents(), 600);
  EXPECT_EQ(o.net_cents(), 3 * 1999 + 500 - 600);
}

TEST(ParseCreateOrder, AcceptsTheSeedShape) {
  auto o = ParseCreateOrder(
      R"({"customerId":1,"payment_id":2,"products":[{"productId":3,"quantity":4}],"x":true})");
  ASSERT_TRUE(std::holds_alternative<CreateOrderInput>(o));
  const auto& in = std::get<CreateOrderInput>(o);
  EXPECT_EQ(in.customer_id, 1);
  EXPECT_EQ(in.payment_id, 2);
  ASSERT_EQ(in.lines.size(), 1u);
  EXPECT_EQ(in.lines[0].product_id, 3);
  EXPECT_EQ(in.lines[0].quantity, 4);
}

// 10,000 levels are refused at the 33rd; 32 are parsed (and then found not to be an order).
TEST(ParseCreateOrder, RefusesBodiesNestedDeeperThan32) {
  auto o = ParseCreateOrder(std::string(10'000, '[') + std::string(10'000, ']'));
  ASSERT_TRUE(std::holds_alternative<ApiError>(o));
  EXPECT_NE(std::get<ApiError>(o).message.find("nested deeper than 32"), std::string::npos);
  o = ParseCreateOrder(std::string(32, '[') + std::string(32, ']'));
  ASSERT_TRUE(std::holds_alternative<ApiError>(o));
  EXPECT_EQ(std::get<ApiError>(o).message.find("nested deeper"), std::string::npos);
}

TEST(ParseCreateOrder, NamesTheFieldOfEveryError) {
  EXPECT_EQ(ErrorOf(ParseCreateOrder("{")).field, "body");
  EXPECT_EQ(ErrorOf(ParseCreateOrder("[]")).field, "body");
  EXPECT_EQ(ErrorOf(ParseCreateOrder(R"({"payment_id":2,"products":[]})")).field, "customerId");
  EXPECT_EQ(ErrorOf(ParseCreateOrder(R"({"customerId":"1","payment_id":2,"products":[]})")).field,
            "customerId");
  EXPECT_EQ(ErrorOf(ParseCreateOrder(R"({"customerId":1.5,"payment_id":2,"products":[]})")).field,
            "customerId");
  EXPECT_EQ(ErrorOf(ParseCreateOrder(R"({"customerId":1,"payment_id":null,"products":[]})")).field,
            "payment_id");
  EXPECT_EQ(ErrorOf(ParseCreateOrder(R"({"customerId":1,"payment_id":2,"products":{}})")).field, "products");
  EXPECT_EQ(ErrorOf(ParseCreateOrder(R"({"customerId":1,"payment_id":2,"products":[1]})")).field,
            "products[0]");
  EXPECT_EQ(
      ErrorOf(
          ParseCreateOrder(
              R"({"customerId":1,"payment_id":2,"products":[{"productId":1,"quantity":1},{"productId":true,"quantity":1}]})"))
          .field,
      "products[1].productId");
  EXPECT_EQ(
      ErrorOf(ParseCreateOrder(
                  R"({"customerId":1,"payment_id":2,"products":[{"productId":1,"quantity":99999999999}]})"))
          .field,
      "products[0].quantity");
  const auto huge = ErrorOf(ParseCreateOrder(R"({"customerId":1e30,"payment_id":2,"products":[]})"));
  EXPECT_EQ(huge.field, "customerId");
  EXPECT_NE(huge.message.find("out of range"), std::string::npos) << huge.message;
  EXPECT_EQ(
      ErrorOf(ParseCreateOrder(R"({"customerId":18446744073709551615,"payment_id":2,"products":[]})")).field,
      "customerId");
}

// nlohmann keeps the last of two equal keys; another parser may keep the first. Such a body is refused,
// naming where the key repeats.
TEST(ParseCreateOrder, RefusesAKeyGivenTwiceNamingWhere) {
  const auto top =
      ErrorOf(ParseCreateOrder(R"({"customerId":1,"payment_id":2,"customerId":3,"products":[]})"));
  EXPECT_EQ(top.field, "customerId");
  EXPECT_NE(top.message.find("more than once"), std::string::npos) << top.message;
  EXPECT_EQ(
      ErrorOf(ParseCreateOrder(R"({"customerId":1,"payment_id":2,"products":[{"productId":1,"quantity":1},)"
                               R"({"productId":2,"quantity":1,"quantity":9}]})"))
          .field,
      "products[1].quantity");
  // The same key in two different objects is no repeat, and neither is an unknown nested object's.
  EXPECT_TRUE(std::holds_alternative<CreateOrderInput>(
      ParseCreateOrder(R"({"customerId":1,"payment_id":2,"meta":{"a":[{"a":1},{"a":2}]},)"
                       R"("products":[{"productId":1,"quantity":1},{"productId":2,"quantity":1}]})")));
}

// A body of many small objects: the repeat at the end is found and placed (x[20000].a), and an
// over-long key is cut in the answer.
TEST(ParseCreateOrder, FindsARepeatAfterManyObjectsAndCutsLongKeys) {
  std::string body = R"({"customerId":1,"payment_id":2,"products":[],"x":[)";
  for (int i = 0; i < 20000; ++i) body += "{},";
  body += R"({"a":1,"a":2}]})";
  EXPECT_EQ(ErrorOf(ParseCreateOrder(body)).field, "x[20000].a");
  const std::string long_key(5000, 'k');
  const auto e = ErrorOf(ParseCreateOrder(R"({")" + long_key + R"(":1,")" + long_key + R"(":2})"));
  EXPECT_EQ(e.field, std::string(64, 'k') + "...");
}

TEST(ParseCreateOrder, RefusesWhatIsNotOneJsonObject) {
  const std::string ok = R"({"customerId":1,"payment_id":2,"products":[{"productId":1,"quantity":1}]})";
  for (const std::string& bad :
       {ok + "x", ok + ok, ok.substr(0, 20) + std::string(1, '\0') + ok.substr(20),
        std::string(R"({"customerId":1,"payment_id":2,"products":[],"n":"\xff"})"), std::string("")}) {
    EXPECT_EQ(ErrorOf(ParseCreateOrder(bad)).field, "body") << bad;
  }
}

TEST(ParseCreateOrder, SaysWhyAnIntegerWrittenAsAFloatIsRefused) {
  for (const char* quantity : {"1.0", "1e2"}) {
    const auto e = ErrorOf(ParseCreateOrder(std::string(R"({"customerId":1,"payment_id":2,"products":[)") +
                                            R"({"productId":1,"quantity":)" + quantity + "}]}"));
    EXPECT_EQ(e.field, "products[0].quantity");
    EXPECT_NE(e.message.find("fraction or an exponent"), std::string::npos) << e.message;
  }
}

TEST(OrderApiConfig, RefusesLimitsUnderWhichTotalsCouldOverflow) {
  const auto load = [](std::map<std::string, std::string> vars) {
    vars["PG_DSN"] = "host=127.0.0.1";
    config::Env env([vars](const std::string& name) -> std::optional<std::string> {
      auto it = vars.find(name);
      return it == vars.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
    return LoadConfig(env);
  };
  EXPECT_EQ(load({}).limits.max_lines * load({}).limits.max_quantity, 100 * 10'000);
  EXPECT_NO_THROW(load({{"ORDER_API_MAX_LINES", "9"}, {"ORDER_API_MAX_QUANTITY", "1000000"}}));
  EXPECT_THROW(load({{"ORDER_API_MAX_LINES", "10"}, {"ORDER_API_MAX_QUANTITY", "1000000"}}),
               config::ConfigError);
}

TEST(ValidateCreate, ChecksRangesAndCounts) {
  Limits limits;
  limits.max_lines = 3;
  limits.max_quantity = 10;
  // The field an input is refused for; "(accepted)" when it is not, so a wrongly accepted input fails
  // the comparison instead of dereferencing an empty optional.
  const auto refused = [&](const CreateOrderInput& in) -> std::string {
    const auto error = ValidateCreate(in, limits);
    return error ? error->field : "(accepted)";
  };
  CreateOrderInput ok{1, 2, {{3, 1}}, ""};
  EXPECT_FALSE(ValidateCreate(ok, limits).has_value());
  auto bad = ok;
  bad.customer_id = 0;
  EXPECT_EQ(refused(bad), "customerId");
  bad = ok;
  bad.payment_id = -4;
  EXPECT_EQ(refused(bad), "payment_id");
  bad = ok;
  bad.lines.clear();
  EXPECT_EQ(refused(bad), "products");
  bad = ok;
  bad.lines = {{3, 1}, {4, 1}, {5, 1}, {6, 1}};
  EXPECT_EQ(refused(bad), "products");
  bad = ok;
  bad.lines = {{3, 1}, {4, 0}};
  EXPECT_EQ(refused(bad), "products[1].quantity");
  bad.lines = {{3, 11}};
  EXPECT_EQ(refused(bad), "products[0].quantity");
  bad.lines = {{3, -1}};
  EXPECT_EQ(refused(bad), "products[0].quantity");
  bad.lines = {{-3, 1}};
  EXPECT_EQ(refused(bad), "products[0].productId");
  bad = ok;
  bad.idempotency_key = std::string(300, 'k');
  EXPECT_EQ(refused(bad), "Idempotency-Key");
  // A key is 1..max visible ASCII characters; a key sent empty is a mistake, not "no key".
  for (const std::string& key :
       std::vector<std::string>{"caf\xc3\xa9", "\xff", "two words", "tab\tbed", "\x7f"}) {
    bad.idempotency_key = key;
    EXPECT_EQ(refused(bad), "Idempotency-Key") << key;
  }
  bad.idempotency_key = "";
  bad.idempotency_key_given = true;
  EXPECT_EQ(refused(bad), "Idempotency-Key");
  bad.idempotency_key_given = false;
  EXPECT_FALSE(ValidateCreate(bad, limits).has_value());
  bad.idempotency_key = "!~" + std::string(253, 'k');
  bad.idempotency_key_given = true;
  EXPECT_FALSE(ValidateCreate(bad, limits).has_value());
}

TEST(RequestFingerprint, DiffersWhenTheRequestDiffers) {
  CreateOrderInput a{1, 2, {{3, 1}}, "k"};
  auto b = a;
  b.lines[0].quantity = 2;
  auto c = a;
  c.idempotency_key = "other";  // the key itself is not part of what is asked
  EXPECT_NE(RequestFingerprint(a), RequestFingerprint(b));
  EXPECT_EQ(RequestFingerprint(a), RequestFingerprint(c));
}

TEST(ErrorToJson, IsValidJsonWithFieldAndRequestId) {
  const auto j =
      nlohmann::json::parse(ErrorToJson({ErrorCode::kInvalidArgument, "customerId", "bad \"x\""}, "r1"));
  EXPECT_EQ(j["field"], "customerId");
  EXPECT_EQ(j["requestId"], "r1");
  EXPECT_EQ(j["error"], "bad \"x\"");
}

TEST(ParseId, AcceptsOnlyPlainDecimalIntegers) {
  EXPECT_EQ(ParseId("42"), 42);
  EXPECT_FALSE(ParseId("").has_value());
  EXPECT_FALSE(ParseId("-1").has_value());
  EXPECT_FALSE(ParseId("1x").has_value());
  EXPECT_FALSE(ParseId("99999999999999999999").has_value());
}

TEST(CatalogColumn, MapsTheFeedHeaderToSnakeCase) {
  EXPECT_EQ(CatalogColumn("styleNumber"), "style_number");
  EXPECT_EQ(CatalogColumn("brandcode"), "brand_code");
  EXPECT_EQ(CatalogColumn("price_eur"), "price_eur");
  EXPECT_EQ(CatalogColumn("grossPrice_eur"), "gross_price_eur");
  EXPECT_EQ(CatalogColumn("b2bReadinessDate"), "b2b_readiness_date");
  EXPECT_EQ(CatalogColumn("countryOfOrigin"), "country_of_origin");
}

TEST(RequestIdOrNew, KeepsPlainIdsOnly) {
  EXPECT_EQ(RequestIdOrNew("abc-12_3.x"), "abc-12_3.x");
  for (std::string_view bad : {"", "has space", "quote\"", "line\nbreak", "caf\xc3\xa9"}) {
    const auto id = RequestIdOrNew(bad);
    EXPECT_NE(id, bad);
    EXPECT_EQ(id.size(), 16u) << id;
  }
  EXPECT_EQ(RequestIdOrNew(std::string(65, 'a')).size(), 16u);
  EXPECT_EQ(RequestIdOrNew(std::string(64, 'a')), std::string(64, 'a'));
}

TEST(WorkQueue, RunsEveryTaskPostedBeforeStopAndInlineAfter) {
  std::atomic<int> ran{0};
  WorkQueue queue(2);
  for (int i = 0; i < 100; ++i) {
    queue.Post([&] {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      ++ran;
    });
  }
  queue.Stop();  // runs what is queued before the threads end
  EXPECT_EQ(ran.load(), 100);
  const auto caller = std::this_thread::get_id();
  std::thread::id ran_on;
  queue.Post([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(ran_on, caller);
  queue.Stop();  // idempotent
}

// civetweb's decoding is off (it ended the path at %00); ours refuses what cannot name a route.
TEST(UrlPath, DecodesEscapesAndRefusesMalformedOnesAndControlBytes) {
  EXPECT_EQ(DecodeUrlPath("/api/v1/orders/%31%32"), "/api/v1/orders/12");
  EXPECT_EQ(DecodeUrlPath("/a%20b/%e2%82%AC"), "/a b/\xe2\x82\xac");
  EXPECT_EQ(DecodeUrlPath("/plain"), "/plain");
  for (const char* bad : {"/api/v1/orders/%00", "/x%0a", "/x%7F", "/x%", "/x%4", "/x%zz", "/x%g0"}) {
    EXPECT_EQ(DecodeUrlPath(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace rainbow::order
