// Proves that the trace hash identifies a run: the same records give the same hash, a change in
// any field of any record or in their order changes it, it equals SHA-256 over the documented
// canonical encoding (so outside tools can check it), and keeping records in memory (or not)
// never changes it.
#include "sim/trace.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace s3chaos::sim {
namespace {

void append(Trace& trace, const TraceRecord& record) {
  switch (record.numbers_count) {
    case 0:
      trace.record(record.time, record.component, record.kind, {}, record.detail);
      break;
    case 1:
      trace.record(record.time, record.component, record.kind, {record.numbers[0]}, record.detail);
      break;
    case 2:
      trace.record(record.time, record.component, record.kind,
                   {record.numbers[0], record.numbers[1]}, record.detail);
      break;
    default:
      trace.record(record.time, record.component, record.kind,
                   {record.numbers[0], record.numbers[1], record.numbers[2]}, record.detail);
      break;
  }
}

TraceHash hash_of(const std::vector<TraceRecord>& records) {
  Trace trace(0);
  for (const TraceRecord& record : records) append(trace, record);
  return trace.hash();
}

TraceRecord make_record(TimeNs time, std::string component, std::string kind,
                        std::vector<std::int64_t> numbers, std::string detail) {
  TraceRecord record;
  record.time = time;
  record.component = std::move(component);
  record.kind = std::move(kind);
  for (std::size_t i = 0; i < numbers.size(); ++i) record.numbers[i] = numbers[i];
  record.numbers_count = static_cast<std::uint8_t>(numbers.size());
  record.detail = std::move(detail);
  return record;
}

std::string sha256_hex(const std::string& bytes) {
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  TraceHash hash;
  std::copy(digest, digest + 32, hash.bytes.begin());
  return hash.hex();
}

TEST(Trace, EmptyTraceHashesLikeNoBytes) {
  EXPECT_EQ(Trace().hash().hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Trace, CanonicalEncodingIsPinned) {
  // The byte layout docs/sim.md documents: little-endian, u32 length prefixes.
  const std::string bytes = Trace::encode(make_record(258, "ab", "k", {-1}, "d"));
  std::string hex;
  for (unsigned char c : bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    hex.push_back(digits[c >> 4]);
    hex.push_back(digits[c & 0xf]);
  }
  EXPECT_EQ(hex,
            "0201000000000000"  // time 258
            "020000006162"      // "ab"
            "010000006b"        // "k"
            "01000000"          // one number
            "ffffffffffffffff"  // -1
            "0100000064");      // "d"
}

TEST(Trace, HashIsSha256OfTheConcatenatedEncodingsAndKeepsRunning) {
  // Enough records to cross the 4 KiB hashing block several times; hash() midway must not
  // disturb the running hash.
  Trace trace;
  std::string all_bytes;
  for (int i = 0; i < 500; ++i) {
    const TraceRecord record = make_record(i * 10, "net", i % 3 ? "send" : "deliver", {i, i * 7},
                                           i % 5 ? "" : "detail text");
    append(trace, record);
    all_bytes += Trace::encode(record);
    if (i == 123) {
      EXPECT_EQ(trace.hash().hex(), sha256_hex(all_bytes));
    }
  }
  EXPECT_EQ(trace.hash().hex(), sha256_hex(all_bytes));
  EXPECT_EQ(trace.records_count(), 500u);
}

TEST(Trace, FieldBoundariesAreUnambiguous) {
  EXPECT_NE(hash_of({make_record(0, "ab", "c", {}, "")}),
            hash_of({make_record(0, "a", "bc", {}, "")}));
  EXPECT_NE(hash_of({make_record(0, "a", "b", {}, "c")}),
            hash_of({make_record(0, "a", "bc", {}, "")}));
  EXPECT_NE(hash_of({make_record(0, "a", "b", {}, "")}),
            hash_of({make_record(0, "a", "b", {0}, "")}));
}

TEST(Trace, OrderOfRecordsMatters) {
  const TraceRecord first = make_record(5, "x", "one", {1}, "");
  const TraceRecord second = make_record(5, "x", "two", {2}, "");
  EXPECT_NE(hash_of({first, second}), hash_of({second, first}));
  EXPECT_EQ(hash_of({first, second}), hash_of({first, second}));
}

// Any record list; then one field of one record changed: the hash must change.
RC_GTEST_PROP(TraceProperty, AnyChangeInAnyFieldChangesTheHash, ()) {
  const auto count = *rc::gen::inRange(1, 20);
  std::vector<TraceRecord> records;
  TimeNs time = 0;
  for (int i = 0; i < count; ++i) {
    time += *rc::gen::inRange<TimeNs>(0, 1000);
    const auto numbers = *rc::gen::container<std::vector<std::int64_t>>(
        *rc::gen::inRange<std::size_t>(0, 4), rc::gen::arbitrary<std::int64_t>());
    records.push_back(make_record(time, *rc::gen::elementOf(std::vector<std::string>{"a", "bb"}),
                                  *rc::gen::elementOf(std::vector<std::string>{"k", "kk"}), numbers,
                                  *rc::gen::elementOf(std::vector<std::string>{"", "d"})));
  }
  const TraceHash original = hash_of(records);
  RC_ASSERT(hash_of(records) == original);

  std::vector<TraceRecord> changed = records;
  TraceRecord& target = changed[*rc::gen::inRange<std::size_t>(0, records.size())];
  switch (*rc::gen::inRange(0, 6)) {
    case 0:  // The last record's time can grow without breaking the order.
      changed.back().time += *rc::gen::inRange<TimeNs>(1, 1000);
      break;
    case 1:
      target.component += "x";
      break;
    case 2:
      target.kind = target.kind == "k" ? "q" : "k";
      break;
    case 3:
      target.detail += "!";
      break;
    case 4:
      if (target.numbers_count == 0) {
        target.numbers_count = 1;
        target.numbers[0] = *rc::gen::arbitrary<std::int64_t>();
      } else {
        target.numbers[*rc::gen::inRange<std::size_t>(0, target.numbers_count)] ^=
            std::int64_t{1} << *rc::gen::inRange(0, 64);
      }
      break;
    case 5:
      changed.push_back(changed.back());  // One more record.
      break;
  }
  RC_ASSERT(hash_of(changed) != original);
}

TEST(Trace, KeepsOnlyTheLastRecordsButHashesAll) {
  Trace bounded(3);
  Trace none(0);
  Trace all;
  for (int i = 0; i < 5; ++i) {
    for (Trace* trace : {&bounded, &none, &all}) trace->record(i, "c", "k", {i}, "");
  }
  EXPECT_EQ(bounded.kept_records().size(), 3u);
  EXPECT_EQ(bounded.records_forgotten(), 2u);
  EXPECT_EQ(bounded.kept_records().front().numbers[0], 2);
  EXPECT_EQ(none.kept_records().size(), 0u);
  EXPECT_EQ(all.kept_records().size(), 5u);
  EXPECT_EQ(bounded.hash(), none.hash());
  EXPECT_EQ(bounded.hash(), all.hash());
}

TEST(Trace, DumpsTextAndJsonLines) {
  Trace trace;
  trace.record(1'500'000'007, "net.s3", "send", {4, -2}, "");
  trace.record(2'000'000'000, "uploader", "ack", {}, "photo \"a\"");
  std::ostringstream text;
  trace.write_text(text);
  EXPECT_EQ(text.str(),
            "1.500000007 net.s3 send 4 -2\n"
            "2.000000000 uploader ack | photo \"a\"\n");
  std::ostringstream json;
  trace.write_json_lines(json);
  EXPECT_EQ(json.str(),
            "{\"time_ns\":1500000007,\"component\":\"net.s3\",\"kind\":\"send\",\"numbers\":[4,-2],"
            "\"detail\":\"\"}\n"
            "{\"time_ns\":2000000000,\"component\":\"uploader\",\"kind\":\"ack\",\"numbers\":[],"
            "\"detail\":\"photo \\\"a\\\"\"}\n");
}

TEST(TraceDeathTest, TimeGoingBackwardsIsABug) {
  Trace trace;
  trace.record(10, "c", "k");
  EXPECT_DEATH(trace.record(9, "c", "k"), "trace time went backwards");
}

}  // namespace
}  // namespace s3chaos::sim
