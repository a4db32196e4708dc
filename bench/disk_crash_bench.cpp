// Cost of the SQLite crash-point enumeration on SimDisk (the check of tests/sim/
// sqlite_crash_test.cpp): a workload of two transactions over a 300-row journal table, run
// once per mutating disk call with the disk dying at that call, then crash, reopen,
// integrity_check and a full table read. Reports the time per crash point, the number of
// points per workload, and the ratio (in thread CPU time) of one crash point to one clean run of
// the same workload (open, two transactions, close) measured in the same process.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <time.h>

#include <string>
#include <vector>

#include "sim/assert.hpp"
#include "sim/disk.hpp"
#include "sim/sqlite_vfs.hpp"

namespace {

using s3chaos::sim::DiskFaults;
using s3chaos::sim::RandomStream;
using s3chaos::sim::SimDisk;

constexpr const char* database_path = "data/journal.db";
constexpr int prepared_row_count = 300;
// Clean runs timed to get the denominator of the ratio.
constexpr int clean_runs_timed = 50;

// CPU time of this thread: the machine running the benchmark is shared, so wall time would
// measure the neighbours as much as the code.
double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

int exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

sqlite3* open_database(const std::string& vfs, const char* journal_mode) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(database_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs.c_str());
  exec(db, std::string("PRAGMA journal_mode=") + journal_mode + "; PRAGMA synchronous=FULL");
  return db;
}

std::vector<std::string> transactions() {
  std::string first = "BEGIN;";
  for (int i = 0; i < 25; ++i) {
    first += "INSERT INTO entries(name, state, payload) VALUES ('photo-new-" + std::to_string(i) +
             "', 'received', randomblob(300));";
  }
  first += "UPDATE entries SET state = 'uploaded', payload = zeroblob(150) WHERE id % 7 = 0;";
  first += "DELETE FROM entries WHERE id % 11 = 0; COMMIT;";
  std::string second = "BEGIN; UPDATE entries SET state = 'verified' WHERE id % 5 = 0;";
  for (int i = 0; i < 5; ++i) {
    second += "INSERT INTO entries(name, state, payload) VALUES ('photo-late-" + std::to_string(i) +
              "', 'received', randomblob(200));";
  }
  second += "COMMIT;";
  return {first, second};
}

void run_workload(const std::string& vfs, const char* journal_mode,
                  const std::vector<std::string>& statements) {
  sqlite3* db = open_database(vfs, journal_mode);
  for (const std::string& transaction : statements) {
    if (exec(db, transaction) != SQLITE_OK) {
      exec(db, "ROLLBACK");
      break;
    }
  }
  sqlite3_close_v2(db);
}

// Reopens after a crash and reads everything back, as the test does for each point.
void check_database(const std::string& vfs, const char* journal_mode) {
  sqlite3* db = open_database(vfs, journal_mode);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr);
  S3CHAOS_ASSERT(sqlite3_step(statement) == SQLITE_ROW);
  S3CHAOS_ASSERT(std::string(reinterpret_cast<const char*>(sqlite3_column_text(statement, 0))) ==
                 "ok");
  sqlite3_finalize(statement);
  sqlite3_prepare_v2(db, "SELECT id, name, state, hex(payload) FROM entries ORDER BY id", -1,
                     &statement, nullptr);
  std::size_t bytes = 0;
  while (sqlite3_step(statement) == SQLITE_ROW) bytes += sqlite3_column_bytes(statement, 3);
  benchmark::DoNotOptimize(bytes);
  sqlite3_finalize(statement);
  sqlite3_close_v2(db);
}

void enumerate_crash_points(benchmark::State& state, const char* journal_mode,
                            double torn_write_probability) {
  const std::string vfs = std::string("bench-") + journal_mode;
  SimDisk disk(RandomStream::named(1, "bench.disk"));
  S3CHAOS_ASSERT(s3chaos::sim::register_sqlite_vfs(disk, vfs) == SQLITE_OK);
  s3chaos::sim::seed_sqlite_randomness(1);
  disk.make_directory("data");
  disk.sync_directory("");
  {
    sqlite3* db = open_database(vfs, journal_mode);
    exec(db,
         "CREATE TABLE entries(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
         "state TEXT NOT NULL, payload BLOB)");
    std::string insert = "BEGIN;";
    for (int i = 0; i < prepared_row_count; ++i) {
      insert += "INSERT INTO entries(name, state, payload) VALUES ('photo-" + std::to_string(i) +
                "', 'received', randomblob(" + std::to_string(40 + (i * 37) % 120) + "));";
    }
    S3CHAOS_ASSERT(exec(db, insert + "COMMIT;") == SQLITE_OK);
    sqlite3_close(db);
  }
  disk.sync_directory("data");
  disk.crash();
  disk.set_faults(DiskFaults{.torn_write_probability = torn_write_probability});
  const SimDisk prepared = disk;
  const std::vector<std::string> statements = transactions();

  // The denominator: one clean run of the workload (copy of the disk included).
  const double clean_start = thread_cpu_seconds();
  std::uint64_t workload_calls = 0;
  for (int i = 0; i < clean_runs_timed; ++i) {
    disk = prepared;
    run_workload(vfs, journal_mode, statements);
    workload_calls = disk.mutating_call_count() - prepared.mutating_call_count();
  }
  const double clean_run_seconds = (thread_cpu_seconds() - clean_start) / clean_runs_timed;

  std::uint64_t points = 0;
  double enumeration_seconds = 0.0;
  for (auto _ : state) {
    const double start = thread_cpu_seconds();
    for (std::uint64_t k = 1; k <= workload_calls + 1; ++k) {
      disk = prepared;
      disk.set_random_stream(RandomStream::named(k, "bench.crash"));
      disk.arm_crash_point(disk.mutating_call_count() + k);
      run_workload(vfs, journal_mode, statements);
      disk.crash();
      check_database(vfs, journal_mode);
      ++points;
    }
    enumeration_seconds += thread_cpu_seconds() - start;
  }
  s3chaos::sim::unregister_sqlite_vfs(vfs);
  const double seconds_per_point = enumeration_seconds / static_cast<double>(points);
  state.counters["points"] = static_cast<double>(workload_calls + 1);
  state.counters["us_per_point"] = seconds_per_point * 1e6;
  state.counters["us_clean_run"] = clean_run_seconds * 1e6;
  // How many clean runs of the workload one checked crash point costs.
  state.counters["point_vs_clean"] = seconds_per_point / clean_run_seconds;
}

void BM_CrashPoints_TruncateFull(benchmark::State& state) {
  enumerate_crash_points(state, "TRUNCATE", 0.0);
}
void BM_CrashPoints_WalFull(benchmark::State& state) {
  enumerate_crash_points(state, "WAL", 0.0);
}
void BM_CrashPoints_TruncateFullTorn(benchmark::State& state) {
  enumerate_crash_points(state, "TRUNCATE", 1.0);
}

BENCHMARK(BM_CrashPoints_TruncateFull)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrashPoints_WalFull)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CrashPoints_TruncateFullTorn)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
