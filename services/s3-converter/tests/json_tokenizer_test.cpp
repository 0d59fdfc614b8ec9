// The incremental JSON tokenizer: every input gives the same tokens whatever the chunking, and
// malformed input fails with a clear error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "services/s3-converter/src/json_tokenizer.hpp"

namespace rainbow::converter {
namespace {

// Records tokens as a readable trace.
class Recorder : public JsonHandler {
 public:
  std::string trace;
  void StartObject() override { trace += "{"; }
  void EndObject() override { trace += "}"; }
  void StartArray() override { trace += "["; }
  void EndArray() override { trace += "]"; }
  void Key(std::string_view k) override { trace += "K(" + std::string(k) + ")"; }
  void String(std::string_view s) override { trace += "S(" + std::string(s) + ")"; }
  void Number(std::string_view n) override { trace += "N(" + std::string(n) + ")"; }
  void Bool(bool b) override { trace += b ? "T" : "F"; }
  void Null() override { trace += "0"; }
};

std::string Tokens(std::string_view json, size_t chunk = 0) {
  Recorder r;
  JsonTokenizer t(r);
  if (chunk == 0) {
    t.Feed(json);
  } else {
    for (size_t i = 0; i < json.size(); i += chunk) t.Feed(json.substr(i, chunk));
  }
  t.Finish();
  return r.trace;
}

std::string ErrorOf(std::string_view json) {
  try {
    Tokens(json);
  } catch (const JsonError& e) {
    return e.what();
  }
  return "no error";
}

TEST(JsonTokenizer, TokensOfAllKinds) {
  EXPECT_EQ(Tokens(R"([{"a":1,"b":-2.5e+3,"c":"x","d":true,"e":false,"f":null,"g":[],"h":{}}])"),
            "[{K(a)N(1)K(b)N(-2.5e+3)K(c)S(x)K(d)TK(e)FK(f)0K(g)[]K(h){}}]");
}

TEST(JsonTokenizer, EscapesAndUnicode) {
  EXPECT_EQ(
      Tokens(R"(["a\"b\\c\/d\b\f\n\r\t", "\u00e9\u20AC", "\ud83d\ude00", "\ud800x", "\udc00"])"),
      "[S(a\"b\\c/d\b\f\n\r\t)S(\xC3\xA9\xE2\x82\xAC)S(\xF0\x9F\x98\x80)S(\xEF\xBF\xBDx)S(\xEF\xBF\xBD)]");
}

TEST(JsonTokenizer, SameTokensForEveryChunkSize) {
  const std::string json =
      R"([{"name":"caf\u00e9 \ud83d\ude00","n":[0,-1,2.50,1e10,-0.5E-2],"t":true,"f":false,"z":null,)"
      "\"u\":\"\xE2\x82\xAC\xF0\x9F\x98\x80\"}, {\"k\" : \"v\" } ]";
  const std::string whole = Tokens(json);
  for (size_t chunk = 1; chunk <= json.size(); ++chunk) {
    ASSERT_EQ(Tokens(json, chunk), whole) << "chunk size " << chunk;
  }
}

TEST(JsonTokenizer, JsonLinesAreASequenceOfValues) {
  EXPECT_EQ(Tokens("{\"a\":1}\n{\"a\":2}\n\n"), "{K(a)N(1)}{K(a)N(2)}");
  EXPECT_EQ(Tokens("1 2"), "N(1)N(2)");
}

TEST(JsonTokenizer, RejectsMalformedInput) {
  EXPECT_NE(ErrorOf("").find("empty input"), std::string::npos);
  EXPECT_NE(ErrorOf("  \n").find("empty input"), std::string::npos);
  EXPECT_NE(ErrorOf("[1,2").find("unexpected end"), std::string::npos);
  EXPECT_NE(ErrorOf("[1,]").find("expected a value"), std::string::npos);
  EXPECT_NE(ErrorOf("{\"a\" 1}").find("expected ':'"), std::string::npos);
  EXPECT_NE(ErrorOf("{1:2}").find("expected a key"), std::string::npos);
  EXPECT_NE(ErrorOf("[01]").find("malformed number"), std::string::npos);
  EXPECT_NE(ErrorOf("[1.]").find("malformed number"), std::string::npos);
  EXPECT_NE(ErrorOf("[-]").find("malformed number"), std::string::npos);
  EXPECT_NE(ErrorOf("[tru]").find("literal"), std::string::npos);
  EXPECT_NE(ErrorOf("[\"a\\x\"]").find("invalid escape"), std::string::npos);
  EXPECT_NE(ErrorOf("[\"\\u12G4\"]").find("hex digit"), std::string::npos);
  EXPECT_NE(ErrorOf("[\"a\nb\"]").find("control character"), std::string::npos);
  EXPECT_NE(ErrorOf("[\"\xC3\"]").find("UTF-8"), std::string::npos);
  EXPECT_NE(ErrorOf("[\"\xC0\xAF\"]").find("UTF-8"), std::string::npos);      // overlong
  EXPECT_NE(ErrorOf("[\"\xED\xA0\x80\"]").find("UTF-8"), std::string::npos);  // surrogate
  EXPECT_NE(ErrorOf("[1]]").find("expected a value"), std::string::npos);
  EXPECT_NE(ErrorOf("[1}").find("expected ','"), std::string::npos);
  EXPECT_NE(ErrorOf("\"abc").find("unexpected end"), std::string::npos);
}

TEST(JsonTokenizer, ErrorNamesTheByteOffset) {
  try {
    Tokens("[1, 2, x]");
    FAIL() << "no error";
  } catch (const JsonError& e) {
    EXPECT_EQ(e.offset(), 7u);
    EXPECT_NE(std::string(e.what()).find("at byte 7"), std::string::npos) << e.what();
  }
}

TEST(JsonTokenizer, LimitsBoundMemory) {
  Recorder r;
  JsonTokenizer deep(r, {4, 1024});
  EXPECT_THROW(deep.Feed("[[[[["), JsonError);
  Recorder r2;
  JsonTokenizer longstr(r2, {16, 8});
  EXPECT_THROW(longstr.Feed("[\"0123456789\"]"), JsonError);
}

}  // namespace
}  // namespace rainbow::converter
