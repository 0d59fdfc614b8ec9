// JSON -> XML: the seed's shape (golden file, cross-checked by an independent Python reading with
// xml.etree), escaping, name sanitizing, shapes, errors, and tricky inputs in any chunking.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "services/s3-converter/src/chunk_queue.hpp"
#include "services/s3-converter/src/xml_converter.hpp"
#include "tests/support/child_process.hpp"

namespace rainbow::converter {
namespace {

const std::string kDir = RAINBOW_CONVERTER_TEST_DIR;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Convert(std::string_view json, size_t chunk = 0, XmlOptions options = {}) {
  std::string out;
  options.flush_bytes = 7;  // flush often: exercises the sink path
  XmlConverter c(options, [&](std::string_view s) { out.append(s); });
  if (chunk == 0) {
    c.Feed(json);
  } else {
    for (size_t i = 0; i < json.size(); i += chunk) c.Feed(json.substr(i, chunk));
  }
  c.Finish();
  return out;
}

constexpr const char* kDecl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

TEST(XmlConverter, GoldenSeedSample) {
  // The committed input is a copy of shared/seed-data/sample_products.json; check they agree.
  const std::string input = ReadFile(kDir + "/golden/sample_products.json");
  EXPECT_EQ(input, ReadFile(std::string(RAINBOW_SEED_DIR) + "/sample_products.json"));
  if (std::getenv("RAINBOW_UPDATE_GOLDEN") != nullptr) {
    // Regenerate after an intended shape change; then review the diff by eye and rerun the Python check.
    std::ofstream(kDir + "/golden/sample_products.xml", std::ios::binary) << ConvertToXml(input);
  }
  const std::string expected = ReadFile(kDir + "/golden/sample_products.xml");
  EXPECT_EQ(ConvertToXml(input), expected);
  EXPECT_EQ(Convert(input, 13), expected);
}

TEST(XmlConverter, GoldenMatchesIndependentPythonReading) {
  // tools/check_xml_shape.py builds the expected tree from the JSON with Python's json module and
  // compares it, element by element, with the XML parsed by xml.etree (plus the indentation rule).
  const auto [rc, out] =
      testing::RunShell("python3 " + kDir + "/tools/check_xml_shape.py " + kDir +
                        "/golden/sample_products.json " + kDir + "/golden/sample_products.xml");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos) << out;
}

TEST(XmlConverter, ShapeOfNestedValues) {
  const std::string xml = Convert(
      R"([{"a":"x","o":{"p":1,"q":{"r":true}},"countryOfOrigin":[{"language":"English","value":"BD"}],"tags":["s",2,null],"e":[],"f":{},"n":null,"m":[[1]]}])");
  EXPECT_EQ(xml, std::string(kDecl) +
                     "<products>\n"
                     "  <product>\n"
                     "    <a>x</a>\n"
                     "    <o>\n"
                     "      <p>1</p>\n"
                     "      <q>\n"
                     "        <r>true</r>\n"
                     "      </q>\n"
                     "    </o>\n"
                     "    <countryOfOrigin>\n"
                     "      <entry>\n"
                     "        <language>English</language>\n"
                     "        <value>BD</value>\n"
                     "      </entry>\n"
                     "    </countryOfOrigin>\n"
                     "    <tags>\n"
                     "      <item>s</item>\n"
                     "      <item>2</item>\n"
                     "      <item/>\n"
                     "    </tags>\n"
                     "    <e/>\n"
                     "    <f/>\n"
                     "    <n/>\n"
                     "    <m>\n"
                     "      <item>\n"
                     "        <item>1</item>\n"
                     "      </item>\n"
                     "    </m>\n"
                     "  </product>\n"
                     "</products>\n");
}

TEST(XmlConverter, JsonLinesAndEmptyArray) {
  EXPECT_EQ(Convert("{\"a\":1}\n{\"a\":2}\n"), std::string(kDecl) +
                                                   "<products>\n  <product>\n    <a>1</a>\n  </product>\n"
                                                   "  <product>\n    <a>2</a>\n  </product>\n</products>\n");
  EXPECT_EQ(Convert("[]"), std::string(kDecl) + "<products/>\n");
  EXPECT_EQ(Convert("[{}]"), std::string(kDecl) + "<products>\n  <product/>\n</products>\n");
}

TEST(XmlConverter, ConfigurableNames) {
  XmlOptions o;
  o.root_name = "rows";
  o.record_name = "row";
  o.item_names = ParseItemNames("tags=tag, prices = price");
  o.default_item_name = "li";
  EXPECT_EQ(Convert(R"([{"tags":["a"],"x":[1]}])", 0, o),
            std::string(kDecl) +
                "<rows>\n  <row>\n    <tags>\n      <tag>a</tag>\n    </tags>\n"
                "    <x>\n      <li>1</li>\n    </x>\n  </row>\n</rows>\n");
  EXPECT_THROW(ParseItemNames("novalue"), std::invalid_argument);
  EXPECT_THROW(ParseItemNames("=x"), std::invalid_argument);
}

TEST(XmlConverter, EscapesText) {
  std::string out;
  AppendEscapedText(out, "a&b<c>d\"e'f\tg\nh\ri\x01j\x1F\xEF\xBF\xBEk\xEF\xBF\xBF\xC3\xA9");
  EXPECT_EQ(out,
            "a&amp;b&lt;c&gt;d&quot;e&apos;f&#9;g&#10;h&#13;"
            "i\xEF\xBF\xBDj\xEF\xBF\xBD\xEF\xBF\xBDk\xEF\xBF\xBD\xC3\xA9");
  EXPECT_NE(
      Convert(R"([{"a":"<script>&amp;</script>"}])").find("<a>&lt;script&gt;&amp;amp;&lt;/script&gt;</a>"),
      std::string::npos);
}

TEST(XmlConverter, SanitizesNames) {
  EXPECT_EQ(SanitizeElementName("ean"), "ean");
  EXPECT_EQ(SanitizeElementName("a-b.c_d1"), "a-b.c_d1");
  EXPECT_EQ(SanitizeElementName(""), "_");
  EXPECT_EQ(SanitizeElementName("1abc"), "_x0031_abc");
  EXPECT_EQ(SanitizeElementName("-x"), "_x002D_x");
  EXPECT_EQ(SanitizeElementName("a b"), "a_x0020_b");
  EXPECT_EQ(SanitizeElementName("ns:tag"), "ns_x003A_tag");
  EXPECT_EQ(SanitizeElementName("<x>"), "_x003C_x_x003E_");
  EXPECT_EQ(SanitizeElementName("caf\xC3\xA9"), "caf_x00E9_");
  EXPECT_EQ(SanitizeElementName("\xF0\x9F\x98\x80"), "_x1F600_");
  EXPECT_NE(Convert(R"([{"1 bad<name>":"v"}])").find("<_x0031__x0020_bad_x003C_name_x003E_>v</"),
            std::string::npos);
}

TEST(XmlConverter, WrongShapesAreRejected) {
  auto shape_error = [](std::string_view json) {
    try {
      Convert(json);
    } catch (const ShapeError& e) {
      return std::string(e.what());
    }
    return std::string("no shape error");
  };
  EXPECT_NE(shape_error("\"text\"").find("top-level value is a string"), std::string::npos);
  EXPECT_NE(shape_error("42").find("a number"), std::string::npos);
  EXPECT_NE(shape_error("[1]").find("item 1 of the top-level array is a number"), std::string::npos);
  EXPECT_NE(shape_error("[{},[]]").find("item 2 of the top-level array is an array"), std::string::npos);
  EXPECT_NE(shape_error("[{}] [{}]").find("after the top-level array"), std::string::npos);
  EXPECT_NE(shape_error("{} []").find("JSON lines"), std::string::npos);
  EXPECT_NE(shape_error("{} 1").find("top-level value is a number"), std::string::npos);
  EXPECT_THROW(Convert("[{\"a\":}]"), JsonError);
  EXPECT_THROW(Convert("[{\"a\":1}"), JsonError);
  EXPECT_THROW(Convert(""), JsonError);
}

// Tricky inputs (the fuzz target's corpus themes) run in normal CI: every chunking gives the same
// output as the whole, and every output is well-formed for Python's XML parser.
TEST(XmlConverter, TrickyInputsAnyChunking) {
  const std::vector<std::string> inputs = {
      R"([{"k":"\u0000\u0001\u001f\ud800\udfff\uDBFF\uDFFF\uFFFE"}])",
      R"([{"":"","\"":"\\","<&>":"]]>"}])",
      R"({"a":[[[[{"b":[{}]}]]]]})"
      "\n"
      R"({"a":-0.0e-0})",
      "[{\"x\":\"\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9\"}]",
      R"([{"a":1E400,"b":123456789012345678901234567890}])",
      "\xEF\xBB\xBF[]",  // a BOM is not JSON: rejected
  };
  for (const auto& in : inputs) {
    std::string whole;
    try {
      whole = Convert(in);
    } catch (const std::exception& e) {
      for (size_t chunk = 1; chunk < in.size(); ++chunk) {
        EXPECT_ANY_THROW(Convert(in, chunk)) << in;
      }
      continue;
    }
    for (size_t chunk = 1; chunk < in.size(); ++chunk)
      ASSERT_EQ(Convert(in, chunk), whole) << in << " chunk " << chunk;
    const auto [rc, out] = testing::RunShell(
        "python3 -c 'import sys, xml.etree.ElementTree as ET; ET.fromstring(sys.stdin.buffer.read())'",
        whole);
    EXPECT_EQ(rc, 0) << in << "\n" << whole << "\n" << out;
  }
}

TEST(XmlConverter, RandomChunkingOfGeneratedDocument) {
  std::mt19937 rng(42);
  std::string json = "[";
  for (int i = 0; i < 200; ++i) {
    if (i) json += ",";
    json += R"({"id":)" + std::to_string(i) + R"(,"name":"n\"<)" + std::to_string(rng() % 1000) +
            R"(>","tags":["a","b"],"o":{"x":null,"y":[1.5,true]}})";
  }
  json += "]";
  const std::string whole = ConvertToXml(json);
  for (int round = 0; round < 20; ++round) {
    std::string out;
    XmlConverter c({}, [&](std::string_view s) { out.append(s); });
    size_t pos = 0;
    while (pos < json.size()) {
      const size_t n = std::min<size_t>(json.size() - pos, 1 + rng() % 64);
      c.Feed(std::string_view(json).substr(pos, n));
      pos += n;
    }
    c.Finish();
    ASSERT_EQ(out, whole);
    EXPECT_EQ(c.records(), 200u);
  }
}

// The pipeline's path: the converter hands its buffers to a ChunkQueue (no copy, recycled buffers),
// a reader drains it in odd-sized pieces; the bytes must be the plain sink's, in order.
TEST(XmlConverter, BuffersHandedToChunkQueue) {
  std::string json = "[";
  for (int i = 0; i < 500; ++i) {
    if (i) json += ",";
    json += R"({"ean":")" + std::to_string(i) + R"(","a":[1,2,{"b":"x&y"}],"c":null})";
  }
  json += "]";
  const std::string whole = ConvertToXml(json);
  for (size_t flush : {size_t{7}, size_t{1000}, size_t{64} << 10}) {
    XmlOptions options;
    options.flush_bytes = flush;
    ChunkQueue queue(4096);
    std::string out;
    std::thread reader([&] {
      char buf[333];
      while (const size_t n = queue.Read(buf, sizeof(buf))) out.append(buf, n);
    });
    XmlConverter c(options, XmlConverter::TakeBuffers{},
                   [&](std::string& chunk) { queue.PushBuffer(chunk); });
    for (size_t i = 0; i < json.size(); i += 97) c.Feed(std::string_view(json).substr(i, 97));
    c.Finish();
    queue.Close();
    reader.join();
    EXPECT_EQ(out, whole) << "flush_bytes " << flush;
    EXPECT_EQ(c.bytes_out(), whole.size());
  }
}

}  // namespace
}  // namespace rainbow::converter
