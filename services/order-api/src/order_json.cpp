#include "services/order-api/src/order_json.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace rainbow::order {
namespace {

using nlohmann::json;

ApiError Invalid(std::string field, std::string message) {
  return ApiError{ErrorCode::kInvalidArgument, std::move(field), std::move(message)};
}

const char* TypeName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  // nlohmann keeps 1.0, 1e2 and integers beyond 64 bits as floats.
  if (v.is_number_float()) return "a number written with a fraction or an exponent";
  return "a number";
}

// Finds the first key that appears twice in one object (nlohmann keeps the last value silently; a
// body another parser reads differently must not become an order) and where it is, as a field path
// like products[0].quantity. A SAX pass of its own: nlohmann's parse callback rescans the parent
// container whenever an object ends, which makes a body of many small objects quadratic.
class DuplicateKeyFinder final : public nlohmann::json_sax<json> {
 public:
  // Containers nested deeper than this stop the pass (a body 10,000 deep is refused before any
  // document is built from it; an order is 3 deep).
  static constexpr std::size_t kMaxDepth = 32;
  const std::optional<std::string>& duplicate() const { return duplicate_; }
  bool too_deep() const { return too_deep_; }

  bool null() override { return Element(); }
  bool boolean(bool) override { return Element(); }
  bool number_integer(number_integer_t) override { return Element(); }
  bool number_unsigned(number_unsigned_t) override { return Element(); }
  bool number_float(number_float_t, const string_t&) override { return Element(); }
  bool string(string_t&) override { return Element(); }
  bool binary(binary_t&) override { return Element(); }
  bool start_object(std::size_t) override { return Open(false); }
  bool start_array(std::size_t) override { return Open(true); }
  bool end_object() override { return Close(); }
  bool end_array() override { return Close(); }
  bool key(string_t& key) override {
    Frame& top = frames_.back();
    if (!top.keys.insert(key).second) {
      duplicate_ = PathTo(key);
      return false;  // one is enough: stop here
    }
    top.key = key;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;  // the plain parse reports it
  }

 private:
  struct Frame {
    bool array;
    std::size_t index = 0;                 // arrays: the element being read
    std::unordered_set<std::string> keys;  // objects: the keys read so far
    std::string key;                       // objects: the member being read
  };

  bool Open(bool array) {
    if (frames_.size() >= kMaxDepth) {
      too_deep_ = true;
      return false;
    }
    frames_.push_back({array});
    return true;
  }
  bool Close() {
    frames_.pop_back();
    return Element();
  }
  bool Element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }

  // The path of `key` in the innermost object (frames_.back()); names cut at 64 bytes.
  std::string PathTo(const std::string& key) const {
    const auto name = [](const std::string& k) { return k.size() > 64 ? k.substr(0, 64) + "..." : k; };
    std::string path;
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      path += f.array ? "[" + std::to_string(f.index) + "]" : (path.empty() ? "" : ".") + name(f.key);
    }
    return path + (path.empty() ? "" : ".") + name(key);
  }

  std::vector<Frame> frames_;
  std::optional<std::string> duplicate_;
  bool too_deep_ = false;
};

// An integer field; `max` bounds it. Absent, null, wrong type or out of range → error naming it.
std::optional<ApiError> ReadInt(const json& obj, const char* name, const std::string& field, int64_t max,
                                int64_t& out) {
  auto it = obj.find(name);
  if (it == obj.end()) return Invalid(field, field + " is required");
  if (it->is_number_unsigned()) {
    if (it->get<uint64_t>() > static_cast<uint64_t>(max)) {
      return Invalid(field, field + " is too large");
    }
    out = static_cast<int64_t>(it->get<uint64_t>());
    return std::nullopt;
  }
  if (it->is_number_integer()) {
    out = it->get<int64_t>();
    return std::nullopt;
  }
  if (it->is_number_float()) {
    // nlohmann stores integers beyond 64 bits as floats.
    const double d = it->get<double>();
    if (std::floor(d) == d && std::abs(d) >= 9.2e18) return Invalid(field, field + " is out of range");
  }
  return Invalid(field, field + " must be an integer, not " + TypeName(*it));
}

}  // namespace

ApiResult<CreateOrderInput> ParseCreateOrder(std::string_view body) {
  DuplicateKeyFinder duplicates;
  json::sax_parse(body, &duplicates);
  if (duplicates.too_deep()) {
    return Invalid("body",
                   "body is nested deeper than " + std::to_string(DuplicateKeyFinder::kMaxDepth) + " levels");
  }
  json doc;
  try {
    doc = json::parse(body);
  } catch (const json::parse_error& e) {
    // e.byte tells the position; the library's message names what it expected.
    return Invalid("body", std::string("malformed JSON: ") + e.what());
  }
  if (const auto& path = duplicates.duplicate()) {
    return Invalid(*path, *path + " appears more than once");
  }
  if (!doc.is_object())
    return Invalid("body", std::string("body must be a JSON object, not ") + TypeName(doc));
  CreateOrderInput input;
  if (auto e =
          ReadInt(doc, "customerId", "customerId", std::numeric_limits<int64_t>::max(), input.customer_id))
    return *e;
  if (auto e =
          ReadInt(doc, "payment_id", "payment_id", std::numeric_limits<int64_t>::max(), input.payment_id))
    return *e;
  auto products = doc.find("products");
  if (products == doc.end()) return Invalid("products", "products is required");
  if (!products->is_array())
    return Invalid("products", std::string("products must be an array, not ") + TypeName(*products));
  for (size_t i = 0; i < products->size(); ++i) {
    const json& item = (*products)[i];
    const std::string at = "products[" + std::to_string(i) + "]";
    if (!item.is_object()) return Invalid(at, at + " must be an object, not " + TypeName(item));
    LineInput line;
    int64_t quantity = 0;
    if (auto e = ReadInt(item, "productId", at + ".productId", std::numeric_limits<int64_t>::max(),
                         line.product_id)) {
      return *e;
    }
    if (auto e = ReadInt(item, "quantity", at + ".quantity", std::numeric_limits<int32_t>::max(), quantity))
      return *e;
    if (quantity < std::numeric_limits<int32_t>::min())
      return Invalid(at + ".quantity", at + ".quantity is out of range");
    line.quantity = static_cast<int32_t>(quantity);
    input.lines.push_back(line);
  }
  return input;
}

namespace {
// Responses keep a human order of fields (id first), so ordered_json.
using ordered = nlohmann::ordered_json;

ordered OrderJson(const Order& o) {
  ordered lines = ordered::array();
  for (const auto& l : o.lines) {
    lines.push_back({{"lineNo", l.line_no},
                     {"productId", l.product_id},
                     {"quantity", l.quantity},
                     {"unitPrice", FormatCents(l.unit_price_cents)},
                     {"discountUnitPrice", FormatCents(l.discount_unit_price_cents)},
                     {"netUnitPrice", FormatCents(l.net_unit_price_cents())},
                     {"promotionId", l.promotion_id ? ordered(*l.promotion_id) : ordered(nullptr)}});
  }
  return ordered{{"id", o.id},
                 {"customerId", o.customer_id},
                 {"paymentId", o.payment_id},
                 {"status", o.status},
                 {"createdAt", o.created_at},
                 {"products", std::move(lines)},
                 {"totalAmount", FormatCents(o.total_cents())},
                 {"discountAmount", FormatCents(o.discount_cents())},
                 {"netAmount", FormatCents(o.net_cents())}};
}
}  // namespace

std::string OrderToJson(const Order& order) { return OrderJson(order).dump(); }

std::string PageToJson(const OrderPage& page) {
  ordered orders = ordered::array();
  for (const auto& o : page.orders) orders.push_back(OrderJson(o));
  return ordered{{"orders", std::move(orders)},
                 {"nextAfter", page.next_after > 0 ? ordered(page.next_after) : ordered(nullptr)}}
      .dump();
}

std::string ErrorToJson(const ApiError& error, const std::string& request_id) {
  json body{{"error", error.message}, {"requestId", request_id}};
  if (!error.field.empty()) body["field"] = error.field;
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<int64_t> ParseId(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

}  // namespace rainbow::order
