// The trace of a simulated run: every notable event, in order, and a hash over all of them.
//
// Two runs are the same run when their trace hashes are equal. The hash is SHA-256 (OpenSSL)
// over a canonical byte encoding of each record (docs/sim.md gives it byte by byte), updated
// incrementally, so it depends only on the records' contents and order: never on pointers,
// the wall clock or hash-map order. SHA-256 rather than a 64-bit hash because the encoding is
// public: any tool (`sha256sum` over a re-encoded JSON-lines dump) can check a hash, and two
// different histories colliding is not a question anyone has to think about. Its cost is about
// 100 ns per record (bench: BM_Trace_Record): records are batched into 4 KiB blocks first.
//
// The trace keeps the last records_kept_max records in memory for reports and debugging (0
// keeps none: the hash still covers everything).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>

#include "sim/time.hpp"

namespace s3chaos::sim {

// Numeric fields a record carries (ids, sizes, latencies, enum values).
inline constexpr std::size_t trace_numbers_max = 6;
// Default bound on the records kept in memory (about 100 MB at worst for a full trace).
inline constexpr std::size_t trace_records_kept_max_default = 1 << 20;
// Bound on the component, kind and detail strings of one record.
inline constexpr std::size_t trace_name_bytes_max = 64;
inline constexpr std::size_t trace_detail_bytes_max = 4096;

struct TraceRecord {
  TimeNs time = 0;
  std::string component;  // Who: "net.s3", "uploader", "fake_s3.faults", ...
  std::string kind;       // What happened: "send", "deliver", "timeout", ...
  std::array<std::int64_t, trace_numbers_max> numbers{};
  std::uint8_t numbers_count = 0;
  std::string detail;  // Free text; must itself be deterministic.

  friend bool operator==(const TraceRecord&, const TraceRecord&) = default;
};

// A SHA-256 digest.
struct TraceHash {
  std::array<std::uint8_t, 32> bytes{};
  std::string hex() const;
  friend bool operator==(const TraceHash&, const TraceHash&) = default;
};

class Trace {
 public:
  explicit Trace(std::size_t records_kept_max = trace_records_kept_max_default);
  ~Trace();
  Trace(Trace&&) noexcept;
  Trace& operator=(Trace&&) noexcept;

  // Appends one record. Times must not decrease from one record to the next; names are at most
  // trace_name_bytes_max bytes, detail at most trace_detail_bytes_max, numbers at most
  // trace_numbers_max values (longer input is a bug: an assertion fails).
  void record(TimeNs time, std::string_view component, std::string_view kind,
              std::initializer_list<std::int64_t> numbers = {}, std::string_view detail = {});

  // The hash of every record so far (SHA-256 of their concatenated canonical encodings).
  TraceHash hash() const;
  // Records appended since construction (kept or not).
  std::uint64_t records_count() const noexcept { return records_count_; }
  // The last records, oldest first, at most records_kept_max of them.
  const std::deque<TraceRecord>& kept_records() const noexcept { return kept_; }
  // Records appended but no longer kept (records_count() - kept_records().size()).
  std::uint64_t records_forgotten() const noexcept { return records_count_ - kept_.size(); }

  // Writes the kept records, one per line: "<seconds>.<9 digits> component kind n1 n2 | detail".
  void write_text(std::ostream& out) const;
  // Writes the kept records as JSON lines:
  // {"time_ns":..,"component":"..","kind":"..","numbers":[..],"detail":".."}
  void write_json_lines(std::ostream& out) const;

  // The canonical encoding of one record, as hashed (exposed so tools and tests can check).
  static std::string encode(const TraceRecord& record);

 private:
  void flush_pending() const;

  struct DigestState;
  std::unique_ptr<DigestState> digest_;
  std::size_t records_kept_max_;
  std::uint64_t records_count_ = 0;
  TimeNs last_time_ = 0;
  std::deque<TraceRecord> kept_;
};

}  // namespace s3chaos::sim
