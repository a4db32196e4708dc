// The results database: every run's result as one row of SQLite (scenario, seed, policy,
// verdict, figures, trace hash), so sweeps can be queried, compared and merged across shards.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/world.hpp"

struct sqlite3;

namespace s3chaos::harness {

class ResultsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ResultRow {
  std::string scenario;
  std::uint64_t seed = 0;
  std::string policy;
  std::string verdict;
  std::uint64_t photos_acked = 0;
  std::uint64_t photos_lost = 0;
  std::uint64_t violations = 0;
  std::int64_t drain_time_ms = -1;
  std::uint64_t cache_peak_bytes = 0;
  std::string trace_hash;
  double simulated_seconds = 0;
  friend bool operator==(const ResultRow&, const ResultRow&) = default;
};

class ResultsDatabase {
 public:
  // Opens (creating if needed) the database at `path`. Throws ResultsError.
  explicit ResultsDatabase(const std::string& path);
  ~ResultsDatabase();
  ResultsDatabase(const ResultsDatabase&) = delete;
  ResultsDatabase& operator=(const ResultsDatabase&) = delete;

  // Records one run. A row for the same (scenario, seed, policy) is replaced: a run is
  // deterministic, so the newer row can only be the same result or a result of newer code.
  void record(const RunSummary& summary);
  // Copies every row of another results database into this one.
  void merge_from(const std::string& other_path);
  // Every row, sorted by (scenario, policy, seed).
  std::vector<ResultRow> rows();

 private:
  void execute(const char* sql);
  sqlite3* db_ = nullptr;
};

}  // namespace s3chaos::harness
