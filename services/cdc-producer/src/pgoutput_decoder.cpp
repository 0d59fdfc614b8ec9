#include "services/cdc-producer/src/pgoutput_decoder.hpp"

#include <cstring>

namespace rainbow::cdc {
namespace {

// A bounds-checked big-endian reader over one message.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, const char* what) : bytes_(bytes), what_(what) {}

  uint8_t U8() {
    Need(1);
    return bytes_[pos_++];
  }
  uint16_t U16() {
    Need(2);
    const uint16_t v = static_cast<uint16_t>((bytes_[pos_] << 8) | bytes_[pos_ + 1]);
    pos_ += 2;
    return v;
  }
  uint32_t U32() {
    Need(4);
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | bytes_[pos_ + i];
    pos_ += 4;
    return v;
  }
  uint64_t U64() {
    Need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | bytes_[pos_ + i];
    pos_ += 8;
    return v;
  }
  int64_t I64() { return static_cast<int64_t>(U64()); }
  int32_t I32() { return static_cast<int32_t>(U32()); }
  int16_t I16() { return static_cast<int16_t>(U16()); }

  // A NUL-terminated string.
  std::string_view CString() {
    const void* end =
        pos_ < bytes_.size() ? std::memchr(bytes_.data() + pos_, 0, bytes_.size() - pos_) : nullptr;
    if (end == nullptr) Fail("unterminated string");
    const auto* start = reinterpret_cast<const char*>(bytes_.data() + pos_);
    const size_t len = static_cast<const uint8_t*>(end) - (bytes_.data() + pos_);
    pos_ += len + 1;
    return {start, len};
  }
  std::string_view Bytes(size_t n) {
    Need(n);
    std::string_view v(reinterpret_cast<const char*>(bytes_.data() + pos_), n);
    pos_ += n;
    return v;
  }
  std::span<const uint8_t> Rest() {
    auto r = bytes_.subspan(pos_);
    pos_ = bytes_.size();
    return r;
  }
  size_t remaining() const { return bytes_.size() - pos_; }
  void ExpectEnd() {
    if (pos_ != bytes_.size()) Fail(std::to_string(bytes_.size() - pos_) + " unexpected trailing bytes");
  }
  [[noreturn]] void Fail(const std::string& why) const {
    throw DecodeError(std::string(what_) + ": " + why + " at offset " + std::to_string(pos_) + " of " +
                      std::to_string(bytes_.size()));
  }

 private:
  void Need(size_t n) const {
    if (bytes_.size() - pos_ < n) Fail("truncated (needs " + std::to_string(n) + " more bytes)");
  }
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
  const char* what_;
};

Tuple ReadTuple(Reader& r) {
  const int16_t n = r.I16();
  if (n < 0) r.Fail("negative column count " + std::to_string(n));
  // Each column takes at least one byte: a count beyond the remaining bytes is malformed (and must not
  // make us reserve a huge vector).
  if (static_cast<size_t>(n) > r.remaining())
    r.Fail("column count " + std::to_string(n) + " exceeds message");
  Tuple tuple;
  tuple.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    TupleValue v;
    const uint8_t kind = r.U8();
    switch (kind) {
      case 'n':
        v.kind = TupleValue::Kind::kNull;
        break;
      case 'u':
        v.kind = TupleValue::Kind::kUnchanged;
        break;
      case 't':
      case 'b': {
        v.kind = kind == 't' ? TupleValue::Kind::kText : TupleValue::Kind::kBinary;
        const int32_t len = r.I32();
        if (len < 0) r.Fail("negative value length");
        v.data = r.Bytes(static_cast<size_t>(len));
        break;
      }
      default:
        r.Fail("unknown tuple value kind " + std::to_string(kind));
    }
    tuple.push_back(v);
  }
  return tuple;
}

}  // namespace

CopyDataMessage DecodeCopyData(std::span<const uint8_t> bytes) {
  Reader r(bytes, "replication CopyData");
  const uint8_t tag = r.U8();
  if (tag == 'w') {
    XLogData x;
    x.wal_start = Lsn(r.U64());
    x.wal_end = Lsn(r.U64());
    x.send_time_us = r.I64();
    x.payload = r.Rest();
    if (x.payload.empty()) r.Fail("empty XLogData payload");
    return x;
  }
  if (tag == 'k') {
    Keepalive k;
    k.wal_end = Lsn(r.U64());
    k.send_time_us = r.I64();
    const uint8_t reply = r.U8();
    if (reply > 1) r.Fail("bad reply flag");
    k.reply_requested = reply == 1;
    r.ExpectEnd();
    return k;
  }
  r.Fail("unknown message type " + std::to_string(tag));
}

std::string EncodeStandbyStatus(Lsn written, Lsn flushed, Lsn applied, int64_t client_time_us,
                                bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  auto put64 = [&out](uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (i * 8)) & 0xff));
  };
  put64(written.value());
  put64(flushed.value());
  put64(applied.value());
  put64(static_cast<uint64_t>(client_time_us));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

PgOutputMessage DecodePgOutput(std::span<const uint8_t> bytes) {
  Reader r(bytes, "pgoutput message");
  const uint8_t tag = r.U8();
  switch (tag) {
    case 'B': {
      BeginMessage m{Lsn(r.U64()), r.I64(), r.U32()};
      r.ExpectEnd();
      return m;
    }
    case 'C': {
      CommitMessage m;
      m.flags = r.U8();
      m.commit_lsn = Lsn(r.U64());
      m.end_lsn = Lsn(r.U64());
      m.commit_time_us = r.I64();
      r.ExpectEnd();
      return m;
    }
    case 'O': {
      OriginMessage m;
      m.origin_lsn = Lsn(r.U64());
      m.name = r.CString();
      r.ExpectEnd();
      return m;
    }
    case 'R': {
      RelationMessage m;
      m.oid = r.U32();
      m.schema = r.CString();
      m.table = r.CString();
      m.replica_identity = static_cast<char>(r.U8());
      if (m.replica_identity != 'd' && m.replica_identity != 'n' && m.replica_identity != 'f' &&
          m.replica_identity != 'i') {
        r.Fail("unknown replica identity " + std::to_string(static_cast<int>(m.replica_identity)));
      }
      const int16_t n = r.I16();
      if (n < 0) r.Fail("negative column count");
      if (static_cast<size_t>(n) > r.remaining()) r.Fail("column count exceeds message");
      m.columns.reserve(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) {
        RelationColumn c;
        const uint8_t flags = r.U8();
        if (flags > 1) r.Fail("unknown column flags " + std::to_string(flags));
        c.key = flags == 1;
        c.name = r.CString();
        c.type_oid = r.U32();
        c.type_modifier = r.I32();
        m.columns.push_back(c);
      }
      r.ExpectEnd();
      return m;
    }
    case 'Y': {
      TypeMessage m;
      m.oid = r.U32();
      m.schema = r.CString();
      m.name = r.CString();
      r.ExpectEnd();
      return m;
    }
    case 'I': {
      InsertMessage m;
      m.relation_oid = r.U32();
      if (r.U8() != 'N') r.Fail("insert without new tuple marker 'N'");
      m.new_tuple = ReadTuple(r);
      r.ExpectEnd();
      return m;
    }
    case 'U': {
      UpdateMessage m;
      m.relation_oid = r.U32();
      uint8_t marker = r.U8();
      if (marker == 'K' || marker == 'O') {
        m.old_kind = static_cast<char>(marker);
        m.old_tuple = ReadTuple(r);
        marker = r.U8();
      }
      if (marker != 'N') r.Fail("update without new tuple marker 'N'");
      m.new_tuple = ReadTuple(r);
      r.ExpectEnd();
      return m;
    }
    case 'D': {
      DeleteMessage m;
      m.relation_oid = r.U32();
      const uint8_t marker = r.U8();
      if (marker != 'K' && marker != 'O') r.Fail("delete without old tuple marker 'K' or 'O'");
      m.old_kind = static_cast<char>(marker);
      m.old_tuple = ReadTuple(r);
      r.ExpectEnd();
      return m;
    }
    case 'T': {
      TruncateMessage m;
      const uint32_t n = r.U32();
      const uint8_t options = r.U8();
      if (options > 3) r.Fail("unknown truncate options " + std::to_string(options));
      m.cascade = (options & 1) != 0;
      m.restart_identity = (options & 2) != 0;
      if (n > r.remaining() / 4) r.Fail("relation count exceeds message");
      m.relation_oids.reserve(n);
      for (uint32_t i = 0; i < n; ++i) m.relation_oids.push_back(r.U32());
      r.ExpectEnd();
      return m;
    }
    case 'M': {
      LogicalMessage m;
      const uint8_t flags = r.U8();
      if (flags > 1) r.Fail("unknown message flags");
      m.transactional = flags == 1;
      m.lsn = Lsn(r.U64());
      m.prefix = r.CString();
      const int32_t len = r.I32();
      if (len < 0) r.Fail("negative message length");
      m.content = r.Bytes(static_cast<size_t>(len));
      r.ExpectEnd();
      return m;
    }
    default:
      r.Fail("unknown or unsupported message type " + std::to_string(tag) +
             (tag >= 32 && tag < 127 ? std::string(" ('") + static_cast<char>(tag) + "')" : std::string()));
  }
}

}  // namespace rainbow::cdc
