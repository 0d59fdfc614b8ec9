#include <gtest/gtest.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <random>

#include "services/cdc-producer/src/pgoutput_decoder.hpp"
#include "services/cdc-producer/tests/pgoutput_builder.hpp"

namespace rainbow::cdc {
namespace {

using testing::Bytes;

// Results point into their input: keep every decoded buffer alive for the whole test program.
PgOutputMessage Decode(const Bytes& b) {
  static std::deque<std::vector<uint8_t>> keep;
  keep.push_back(b.bytes());
  return DecodePgOutput(keep.back());
}

TEST(PgOutputDecoder, Begin) {
  auto m = Decode(Bytes().U8('B').U64(0x16B374D848).U64(123456).U32(777));
  const auto& b = std::get<BeginMessage>(m);
  EXPECT_EQ(b.final_lsn.ToString(), "16/B374D848");
  EXPECT_EQ(b.commit_time_us, 123456);
  EXPECT_EQ(b.xid, 777u);
}

TEST(PgOutputDecoder, Commit) {
  auto m = Decode(Bytes().U8('C').U8(0).U64(100).U64(150).U64(99));
  const auto& c = std::get<CommitMessage>(m);
  EXPECT_EQ(c.commit_lsn.value(), 100u);
  EXPECT_EQ(c.end_lsn.value(), 150u);
  EXPECT_EQ(c.commit_time_us, 99);
}

TEST(PgOutputDecoder, RelationAndInsert) {
  auto r = Decode(Bytes()
                      .U8('R')
                      .U32(16384)
                      .Str("rainbow")
                      .Str("orders")
                      .U8('d')
                      .U16(2)
                      .U8(1)
                      .Str("id")
                      .U32(20)
                      .U32(0xffffffff)
                      .U8(0)
                      .Str("status")
                      .U32(25)
                      .U32(0xffffffff));
  const auto& rel = std::get<RelationMessage>(r);
  EXPECT_EQ(rel.oid, 16384u);
  EXPECT_EQ(rel.schema, "rainbow");
  EXPECT_EQ(rel.table, "orders");
  ASSERT_EQ(rel.columns.size(), 2u);
  EXPECT_TRUE(rel.columns[0].key);
  EXPECT_EQ(rel.columns[0].type_oid, 20u);
  EXPECT_EQ(rel.columns[0].type_modifier, -1);
  EXPECT_EQ(rel.columns[1].name, "status");

  auto i = Decode(Bytes().U8('I').U32(16384).U8('N').U16(3).Text("42").U8('n').U8('u'));
  const auto& ins = std::get<InsertMessage>(i);
  ASSERT_EQ(ins.new_tuple.size(), 3u);
  EXPECT_EQ(ins.new_tuple[0].kind, TupleValue::Kind::kText);
  EXPECT_EQ(ins.new_tuple[0].data, "42");
  EXPECT_EQ(ins.new_tuple[1].kind, TupleValue::Kind::kNull);
  EXPECT_EQ(ins.new_tuple[2].kind, TupleValue::Kind::kUnchanged);
}

TEST(PgOutputDecoder, UpdateWithOldTupleAndDelete) {
  auto u = Decode(Bytes().U8('U').U32(5).U8('O').U16(1).Text("a").U8('N').U16(1).Text("b"));
  const auto& up = std::get<UpdateMessage>(u);
  EXPECT_EQ(up.old_kind, 'O');
  EXPECT_EQ(up.old_tuple[0].data, "a");
  EXPECT_EQ(up.new_tuple[0].data, "b");
  auto u2 = Decode(Bytes().U8('U').U32(5).U8('N').U16(1).Text("c"));
  EXPECT_EQ(std::get<UpdateMessage>(u2).old_kind, 0);
  auto d = Decode(Bytes().U8('D').U32(5).U8('K').U16(1).Text("7"));
  EXPECT_EQ(std::get<DeleteMessage>(d).old_kind, 'K');
}

TEST(PgOutputDecoder, TruncateTypeOriginMessage) {
  auto t = Decode(Bytes().U8('T').U32(2).U8(3).U32(10).U32(11));
  const auto& tr = std::get<TruncateMessage>(t);
  EXPECT_TRUE(tr.cascade);
  EXPECT_TRUE(tr.restart_identity);
  EXPECT_EQ(tr.relation_oids, (std::vector<uint32_t>{10, 11}));
  EXPECT_EQ(std::get<TypeMessage>(Decode(Bytes().U8('Y').U32(9).Str("public").Str("mood"))).name, "mood");
  EXPECT_EQ(std::get<OriginMessage>(Decode(Bytes().U8('O').U64(5).Str("node1"))).name, "node1");
  auto msg = std::get<LogicalMessage>(Decode(Bytes().U8('M').U8(0).U64(77).Str("hb").U32(3).Raw("abc")));
  EXPECT_FALSE(msg.transactional);
  EXPECT_EQ(msg.prefix, "hb");
  EXPECT_EQ(msg.content, "abc");
}

TEST(PgOutputDecoder, CopyDataAndStatus) {
  auto w = DecodeCopyData(Bytes().U8('w').U64(1).U64(2).U64(3).U8('B').bytes());
  EXPECT_EQ(std::get<XLogData>(w).payload.size(), 1u);
  auto k = DecodeCopyData(Bytes().U8('k').U64(9).U64(10).U8(1).bytes());
  EXPECT_TRUE(std::get<Keepalive>(k).reply_requested);
  EXPECT_EQ(std::get<Keepalive>(k).wal_end.value(), 9u);
  const auto s = EncodeStandbyStatus(Lsn(1), Lsn(2), Lsn(3), 4, true);
  ASSERT_EQ(s.size(), 34u);
  EXPECT_EQ(s[0], 'r');
  EXPECT_EQ(s[16], 2);
  EXPECT_EQ(s[33], 1);
}

TEST(PgOutputDecoder, MalformedInputsThrowDecodeError) {
  const std::vector<Bytes> bad = {
      Bytes(),                                                  // empty
      Bytes().U8('Z'),                                          // unknown type
      Bytes().U8('B').U64(1),                                   // truncated
      Bytes().U8('B').U64(1).U64(2).U32(3).U8(0),               // trailing byte
      Bytes().U8('I').U32(1).U8('X'),                           // bad marker
      Bytes().U8('I').U32(1).U8('N').U16(1).U8('t').U32(100),   // value longer than message
      Bytes().U8('I').U32(1).U8('N').U16(0xffff),               // negative count
      Bytes().U8('I').U32(1).U8('N').U16(1000).U8('n'),         // count beyond message
      Bytes().U8('I').U32(1).U8('N').U16(1).U8('q'),            // unknown value kind
      Bytes().U8('R').U32(1).Raw("abc"),                        // unterminated string
      Bytes().U8('R').U32(1).Str("s").Str("t").U8('x').U16(0),  // unknown identity
      Bytes().U8('T').U32(0x40000000).U8(0),                    // relation count beyond message
      Bytes().U8('M').U8(0).U64(1).Str("p").U32(0x80000000),    // negative length
      Bytes().U8('S').U32(1),                                   // streaming (proto 2) not negotiated
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_THROW(DecodePgOutput(bad[i].bytes()), DecodeError) << "case " << i;
  }
  EXPECT_THROW(DecodeCopyData(Bytes().bytes()), DecodeError);
  EXPECT_THROW(DecodeCopyData(Bytes().U8('w').U64(1).U64(2).U64(3).bytes()), DecodeError);
  EXPECT_THROW(DecodeCopyData(Bytes().U8('k').U64(1).U64(2).U8(2).bytes()), DecodeError);
  EXPECT_THROW(DecodeCopyData(Bytes().U8('x').bytes()), DecodeError);
}

// Every prefix of every valid message must be rejected cleanly (never read past the end), and random
// bytes and single-byte mutations of valid messages must decode or throw DecodeError, nothing else.
TEST(PgOutputDecoder, TruncationsAndMutationsNeverCrash) {
  std::vector<std::vector<uint8_t>> corpus = {
      Bytes().U8('B').U64(1).U64(2).U32(3).bytes(),
      Bytes().U8('C').U8(0).U64(1).U64(2).U64(3).bytes(),
      Bytes().U8('R').U32(1).Str("s").Str("t").U8('f').U16(1).U8(1).Str("id").U32(23).U32(0xffffffff).bytes(),
      Bytes().U8('I').U32(1).U8('N').U16(2).Text("1").U8('n').bytes(),
      Bytes().U8('U').U32(1).U8('K').U16(1).Text("1").U8('N').U16(1).Text("2").bytes(),
      Bytes().U8('D').U32(1).U8('O').U16(1).Text("1").bytes(),
      Bytes().U8('T').U32(1).U8(0).U32(5).bytes(),
      Bytes().U8('M').U8(1).U64(1).Str("p").U32(1).Raw("x").bytes(),
  };
  // Seeds kept for the fuzzer too (fuzz/corpus); they must also decode here.
  const std::filesystem::path dir = RAINBOW_CDC_CORPUS_DIR;
  if (std::filesystem::exists(dir)) {
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      std::ifstream in(entry.path(), std::ios::binary);
      corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  for (const auto& msg : corpus) {
    EXPECT_NO_THROW(DecodePgOutput(msg));
    for (size_t len = 0; len < msg.size(); ++len) {
      std::span<const uint8_t> prefix(msg.data(), len);
      EXPECT_THROW(DecodePgOutput(prefix), DecodeError) << "prefix " << len;
    }
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> m = corpus[rng() % corpus.size()];
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) m[rng() % m.size()] = static_cast<uint8_t>(rng());
    if (rng() % 4 == 0) m.resize(rng() % (m.size() + 1));
    try {
      DecodePgOutput(m);
    } catch (const DecodeError&) {
    }
  }
}

// A failed EXPECT_EQ on LSNs says "16/B374D848", as PostgreSQL prints it, not eight raw bytes.
TEST(Lsn, PrintsAsPostgresDoesInTestMessages) {
  EXPECT_EQ(::testing::PrintToString(Lsn(0x16B374D848ULL)), "16/B374D848");
  EXPECT_EQ(::testing::PrintToString(Lsn::Parse("0/1").value()), "0/1");
}

}  // namespace
}  // namespace rainbow::cdc
