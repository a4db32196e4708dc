// Crash-point enumeration of SQLite transactions on SimDisk: for EVERY mutating disk call of a
// realistic workload (two transactions over a journal-like table of a few hundred rows, then
// close), the disk dies at that call, loses everything unsynced (optionally with torn
// writes), and the database is reopened. Proves, per configuration, that a COMMIT that
// returned OK survives every later crash point, that no transaction is ever partially
// visible, and that the database opens and passes integrity_check every time; and proves the
// harness can fail by finding the lost commits of unsafe configurations.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <sqlite3.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "property_cases.hpp"
#include "sim/disk.hpp"
#include "sim/random.hpp"
#include "sim/sqlite_vfs.hpp"

namespace s3chaos::sim {
namespace {

constexpr const char* database_path = "data/journal.db";
// Rows in the table before the enumerated workload: enough that the transactions touch many
// pages (about 20 pages of 4 KiB) and the rollback journal holds several of them.
constexpr int prepared_row_count = 300;
// Crash points per configuration are bounded: the workload is fixed, so this only guards
// against a runaway loop if SQLite's I/O pattern changes wildly.
constexpr std::uint64_t crash_points_max = 2000;

struct Configuration {
  const char* name;
  const char* journal_mode;
  const char* synchronous;
  double torn_write_probability;
  // Each crash point is repeated with this many disk seeds (torn writes draw per crash).
  int seeds_per_point;
  // Also enumerate every crash point of the recovery (reopen and read) after each crash.
  bool crash_during_recovery = false;
  // Torn writes keep any subset of the unsynced writes, not an ordered prefix.
  bool torn_writes_reorder = false;
};

int exec(sqlite3* db, const std::string& sql) {
  return sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
}

// The whole table as one string, so states compare exactly; "error: ..." if unreadable.
std::string table_contents(sqlite3* db) {
  sqlite3_stmt* statement = nullptr;
  const char* sql = "SELECT id, name, state, hex(payload) FROM entries ORDER BY id";
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) != SQLITE_OK)
    return std::string("error: ") + sqlite3_errmsg(db);
  std::string contents;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    for (int column = 0; column < 4; ++column) {
      const unsigned char* text = sqlite3_column_text(statement, column);
      contents += text ? reinterpret_cast<const char*>(text) : "NULL";
      contents += column == 3 ? '\n' : '|';
    }
  }
  sqlite3_finalize(statement);
  if (rc != SQLITE_DONE) return std::string("error: ") + sqlite3_errmsg(db);
  return contents;
}

std::string integrity(sqlite3* db) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr) != SQLITE_OK)
    return std::string("error: ") + sqlite3_errmsg(db);
  std::string result;
  while (sqlite3_step(statement) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(statement, 0);
    result += text ? reinterpret_cast<const char*>(text) : "NULL";
  }
  sqlite3_finalize(statement);
  return result;
}

sqlite3* open_database(const std::string& vfs) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(database_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs.c_str());
  return db;
}

int apply_pragmas(sqlite3* db, const Configuration& configuration) {
  if (const int rc = exec(db, std::string("PRAGMA journal_mode=") + configuration.journal_mode);
      rc != SQLITE_OK)
    return rc;
  return exec(db, std::string("PRAGMA synchronous=") + configuration.synchronous);
}

// The two transactions of the workload: T1 inserts, updates across every page and deletes;
// T2 updates another spread of rows and inserts. Shaped like the uploader's journal.
const std::vector<std::string>& transactions() {
  static const std::vector<std::string> statements = [] {
    std::string first = "BEGIN;";
    for (int i = 0; i < 25; ++i) {
      first += "INSERT INTO entries(name, state, payload) VALUES ('photo-new-" + std::to_string(i) +
               "', 'received', randomblob(300));";
    }
    first += "UPDATE entries SET state = 'uploaded', payload = zeroblob(150) WHERE id % 7 = 0;";
    first += "DELETE FROM entries WHERE id % 11 = 0;";
    first += "COMMIT;";
    std::string second = "BEGIN;";
    second += "UPDATE entries SET state = 'verified' WHERE id % 5 = 0;";
    for (int i = 0; i < 5; ++i) {
      second += "INSERT INTO entries(name, state, payload) VALUES ('photo-late-" +
                std::to_string(i) + "', 'received', randomblob(200));";
    }
    second += "COMMIT;";
    return std::vector<std::string>{first, second};
  }();
  return statements;
}

// Builds the durable starting state: the directory, the database and its rows, all synced.
void prepare_disk(const Configuration& configuration, const std::string& vfs_name, SimDisk& disk) {
  EXPECT_EQ(disk.make_directory("data"), std::error_code{});
  EXPECT_EQ(disk.sync_directory(""), std::error_code{});
  sqlite3* db = open_database(vfs_name);
  EXPECT_EQ(apply_pragmas(db, configuration), SQLITE_OK);
  // The preparation itself is made durable explicitly, whatever the configuration.
  EXPECT_EQ(exec(db, "PRAGMA synchronous=EXTRA"), SQLITE_OK);
  EXPECT_EQ(exec(db,
                 "CREATE TABLE entries(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
                 "state TEXT NOT NULL, payload BLOB)"),
            SQLITE_OK);
  std::string insert = "BEGIN;";
  for (int i = 0; i < prepared_row_count; ++i) {
    insert += "INSERT INTO entries(name, state, payload) VALUES ('photo-" + std::to_string(i) +
              "', 'received', randomblob(" + std::to_string(40 + (i * 37) % 120) + "));";
  }
  insert += "COMMIT;";
  EXPECT_EQ(exec(db, insert), SQLITE_OK);
  EXPECT_EQ(sqlite3_close(db), SQLITE_OK);
  EXPECT_EQ(disk.sync_directory("data"), std::error_code{});
  disk.crash();
}

struct WorkloadRun {
  int commits_ok = 0;               // Transactions whose COMMIT returned SQLITE_OK.
  int commits_started = 0;          // Transactions begun.
  std::vector<std::string> states;  // Table contents after each successful commit.
};

// Opens the database, runs the transactions until one fails (the disk died), and closes.
WorkloadRun run_workload(const Configuration& configuration, const std::string& vfs_name,
                         bool record_states) {
  WorkloadRun run;
  sqlite3* db = open_database(vfs_name);
  if (db != nullptr && apply_pragmas(db, configuration) == SQLITE_OK) {
    for (const std::string& transaction : transactions()) {
      ++run.commits_started;
      if (exec(db, transaction) != SQLITE_OK) {
        exec(db, "ROLLBACK");
        break;
      }
      ++run.commits_ok;
      if (record_states) run.states.push_back(table_contents(db));
    }
  }
  sqlite3_close_v2(db);
  return run;
}

struct EnumerationReport {
  std::uint64_t crash_points = 0;
  std::uint64_t torn_files = 0;
  std::vector<std::string> violations;
};

// Reopens and reads the database, as a restarted process would, then closes it.
void recover_read_only(const Configuration& configuration, const std::string& vfs_name) {
  sqlite3* db = open_database(vfs_name);
  if (db != nullptr && apply_pragmas(db, configuration) == SQLITE_OK) table_contents(db);
  sqlite3_close_v2(db);
}

// Reopens the database after a crash and records every broken promise in `report`: it must
// open, pass integrity_check, show exactly one of the expected states, keep every transaction
// whose COMMIT returned OK, show none that never began, and take a new write.
void check_recovered(const Configuration& configuration, const std::string& vfs_name,
                     const WorkloadRun& run, const std::vector<std::string>& expected_states,
                     const std::string& where, EnumerationReport& report) {
  sqlite3* db = open_database(vfs_name);
  if (db == nullptr || apply_pragmas(db, configuration) != SQLITE_OK) {
    report.violations.push_back(where + "database does not reopen");
    sqlite3_close_v2(db);
    return;
  }
  const std::string check = integrity(db);
  if (check != "ok") report.violations.push_back(where + "integrity_check: " + check);
  const std::string contents = table_contents(db);
  int state_index = -1;
  for (std::size_t i = 0; i < expected_states.size(); ++i) {
    if (contents == expected_states[i]) state_index = static_cast<int>(i);
  }
  if (state_index < 0) {
    report.violations.push_back(
        where + "partial transaction visible (or unreadable): " + contents.substr(0, 80));
  } else if (state_index < run.commits_ok) {
    report.violations.push_back(where +
                                "lost committed transaction: " + std::to_string(run.commits_ok) +
                                " committed, state " + std::to_string(state_index) + " found");
  } else if (state_index > run.commits_started) {
    report.violations.push_back(where + "a transaction never begun is visible");
  }
  if (exec(db, "INSERT INTO entries(name, state) VALUES ('after-crash', 'received')") !=
      SQLITE_OK) {
    report.violations.push_back(where + "write after recovery failed: " + sqlite3_errmsg(db));
  }
  sqlite3_close_v2(db);
}

// Enumerates every crash point of the workload under `configuration` and checks each.
EnumerationReport enumerate(const Configuration& configuration) {
  const std::string vfs_name = std::string("crash-") + configuration.name;
  SimDisk disk(RandomStream::named(7, "disk"));
  EXPECT_EQ(register_sqlite_vfs(disk, vfs_name), SQLITE_OK);
  seed_sqlite_randomness(7);
  prepare_disk(configuration, vfs_name, disk);
  disk.set_faults(DiskFaults{.torn_write_probability = configuration.torn_write_probability,
                             .torn_writes_reorder = configuration.torn_writes_reorder});
  const SimDisk prepared = disk;

  // A clean run gives the expected states and the number of mutating calls to enumerate.
  std::vector<std::string> expected_states;
  {
    sqlite3* db = open_database(vfs_name);
    expected_states.push_back(table_contents(db));
    sqlite3_close(db);
  }
  const std::uint64_t calls_before = disk.mutating_call_count();
  seed_sqlite_randomness(11);
  const WorkloadRun clean = run_workload(configuration, vfs_name, true);
  EXPECT_EQ(clean.commits_ok, static_cast<int>(transactions().size()));
  for (const std::string& state : clean.states) expected_states.push_back(state);
  const std::uint64_t workload_calls = disk.mutating_call_count() - calls_before;
  EXPECT_GT(workload_calls, 10u);
  EXPECT_LT(workload_calls, crash_points_max);

  EnumerationReport report;
  // Point k: the disk dies at the k-th mutating call of the workload; k = calls + 1 is a
  // crash after the workload finished.
  for (std::uint64_t k = 1; k <= workload_calls + 1 && k <= crash_points_max; ++k) {
    for (int seed = 0; seed < configuration.seeds_per_point; ++seed) {
      ++report.crash_points;
      disk = prepared;
      disk.set_random_stream(RandomStream::named(k * 1000 + seed, "disk.crash"));
      disk.arm_crash_point(disk.mutating_call_count() + k);
      seed_sqlite_randomness(11);
      const WorkloadRun run = run_workload(configuration, vfs_name, false);
      disk.crash();
      report.torn_files += disk.torn_file_count();

      const std::string where = std::string(configuration.name) + " crash point " +
                                std::to_string(k) + "/" + std::to_string(workload_calls + 1) +
                                " seed " + std::to_string(seed) + ": ";
      if (!configuration.crash_during_recovery) {
        check_recovered(configuration, vfs_name, run, expected_states, where, report);
        continue;
      }
      // The recovery itself (hot-journal rollback, WAL replay and checkpoint at close) is
      // enumerated too: the machine may die again while it runs.
      const SimDisk crashed = disk;
      const std::uint64_t recovery_start = disk.mutating_call_count();
      recover_read_only(configuration, vfs_name);
      const std::uint64_t recovery_calls = disk.mutating_call_count() - recovery_start;
      for (std::uint64_t j = 1; j <= recovery_calls + 1; ++j) {
        ++report.crash_points;
        disk = crashed;
        disk.arm_crash_point(disk.mutating_call_count() + j);
        recover_read_only(configuration, vfs_name);
        disk.crash();
        check_recovered(configuration, vfs_name, run, expected_states,
                        where + "recovery crash point " + std::to_string(j) + ": ", report);
      }
    }
  }
  unregister_sqlite_vfs(vfs_name);
  return report;
}

void expect_safe(const Configuration& configuration) {
  const EnumerationReport report = enumerate(configuration);
  std::printf("%s: %llu crash points, %llu torn files, %zu violations\n", configuration.name,
              static_cast<unsigned long long>(report.crash_points),
              static_cast<unsigned long long>(report.torn_files), report.violations.size());
  EXPECT_GT(report.crash_points, 10u);
  // A torn-write configuration that never tore anything would prove nothing.
  if (configuration.torn_write_probability > 0.0) {
    EXPECT_GT(report.torn_files, report.crash_points / 4);
  }
  for (std::size_t i = 0; i < report.violations.size() && i < 10; ++i)
    ADD_FAILURE() << report.violations[i];
  EXPECT_TRUE(report.violations.empty()) << report.violations.size() << " violations";
}

// Seeds per crash point for torn-write runs; S3CHAOS_PROPERTY_CASES scales it up.
int torn_seeds_per_point() {
  const char* cases = std::getenv("S3CHAOS_PROPERTY_CASES");
  const long scale = cases != nullptr ? std::strtol(cases, nullptr, 10) / 100 : 1;
  return static_cast<int>(std::clamp<long>(scale, 1, 50)) * 3;
}

// Rollback journal, TRUNCATE mode, synchronous=FULL: the journal is truncated and synced at
// commit, so every committed transaction survives every crash point.
TEST(SqliteCrash, TruncateJournalWithFullSyncIsDurableAndAtomic) {
  expect_safe({"truncate-full", "TRUNCATE", "FULL", 0.0, 1});
}

// PERSIST mode, synchronous=FULL: the journal header is zeroed and synced at commit.
TEST(SqliteCrash, PersistJournalWithFullSyncIsDurableAndAtomic) {
  expect_safe({"persist-full", "PERSIST", "FULL", 0.0, 1});
}

// DELETE mode needs synchronous=EXTRA: then the journal's removal is made durable by a
// directory sync before COMMIT returns.
TEST(SqliteCrash, DeleteJournalWithExtraSyncIsDurableAndAtomic) {
  expect_safe({"delete-extra", "DELETE", "EXTRA", 0.0, 1});
}

// WAL with synchronous=FULL: each commit syncs the WAL; a crash during the checkpoint at
// close loses nothing either.
TEST(SqliteCrash, WalWithFullSyncIsDurableAndAtomic) {
  expect_safe({"wal-full", "WAL", "FULL", 0.0, 1});
}

// The same with torn writes: every unsynced write may survive as a prefix at each crash.
TEST(SqliteCrash, TruncateJournalSurvivesTornWrites) {
  expect_safe({"truncate-full-torn", "TRUNCATE", "FULL", 1.0, torn_seeds_per_point()});
}

TEST(SqliteCrash, WalSurvivesTornWrites) {
  expect_safe({"wal-full-torn", "WAL", "FULL", 1.0, torn_seeds_per_point()});
}

TEST(SqliteCrash, DeleteJournalWithExtraSyncSurvivesTornWrites) {
  expect_safe({"delete-extra-torn", "DELETE", "EXTRA", 1.0, torn_seeds_per_point()});
}

// Torn writes that reorder (any subset of the writes since the last sync survives): SQLite
// orders only through syncs, so it must stay safe.
TEST(SqliteCrash, TruncateJournalSurvivesReorderedTornWrites) {
  expect_safe(
      {"truncate-full-reorder", "TRUNCATE", "FULL", 1.0, torn_seeds_per_point(), false, true});
}

TEST(SqliteCrash, WalSurvivesReorderedTornWrites) {
  expect_safe({"wal-full-reorder", "WAL", "FULL", 1.0, torn_seeds_per_point(), false, true});
}

// A second crash during recovery (while SQLite rolls back a hot journal or replays and
// checkpoints the WAL) at every one of its points, after every crash point of the workload,
// still loses nothing committed and shows nothing partial.
TEST(SqliteCrash, TruncateJournalSurvivesACrashDuringRecovery) {
  expect_safe({"truncate-full-twice", "TRUNCATE", "FULL", 0.0, 1, true});
}

TEST(SqliteCrash, WalSurvivesACrashDuringRecovery) {
  expect_safe({"wal-full-twice", "WAL", "FULL", 0.0, 1, true});
}

TEST(SqliteCrash, DeleteJournalWithExtraSyncSurvivesACrashDuringRecovery) {
  expect_safe({"delete-extra-twice", "DELETE", "EXTRA", 0.0, 1, true});
}

// The harness can fail: with synchronous=OFF nothing is synced, so a crash after COMMIT
// returned OK loses the transaction, and the enumeration must find it.
TEST(SqliteCrash, SynchronousOffLosesCommittedTransactions) {
  const EnumerationReport report = enumerate({"delete-off", "DELETE", "OFF", 0.0, 1});
  std::printf("delete-off: %llu crash points, %zu violations\n",
              static_cast<unsigned long long>(report.crash_points), report.violations.size());
  ASSERT_FALSE(report.violations.empty());
  bool lost_commit = false;
  for (const std::string& violation : report.violations)
    lost_commit = lost_commit || violation.find("lost committed") != std::string::npos;
  EXPECT_TRUE(lost_commit) << report.violations.front();
}

// DELETE mode with synchronous=FULL does not sync the directory after deleting the journal
// (SQLite documents this: EXTRA adds that sync). Under the strict model a crash right after
// COMMIT brings the deleted journal back as a hot journal, which rolls the committed
// transaction back: durability is lost, atomicity is not.
TEST(SqliteCrash, DeleteJournalWithFullSyncCanLoseTheLastCommit) {
  const EnumerationReport report = enumerate({"delete-full", "DELETE", "FULL", 0.0, 1});
  std::printf("delete-full: %llu crash points, %zu violations\n",
              static_cast<unsigned long long>(report.crash_points), report.violations.size());
  ASSERT_FALSE(report.violations.empty());
  for (const std::string& violation : report.violations)
    EXPECT_NE(violation.find("lost committed"), std::string::npos) << violation;
}

// Transactions of the fault-injection property: each inserts this many rows tagged with its
// number (spread over several pages by their payloads).
constexpr int tagged_rows_per_transaction = 12;
constexpr int tagged_transactions = 12;

// Random EIO on writes and syncs (with Linux's fsync-EIO semantics or without), ENOSPC, torn
// writes, and a crash at a random call or at the end: after recovery the database passes
// integrity_check, every transaction is all there or not at all, and every one whose COMMIT
// returned OK is there.
TEST(SqliteCrash, RandomDiskFaultsNeverBreakCommittedTransactions) {
  test::check_property(
      [] {
        const auto seed = *rc::gen::inRange<std::uint64_t>(0, 1u << 30);
        const bool drops = *rc::gen::arbitrary<bool>();
        const char* journal_mode = *rc::gen::element("TRUNCATE", "WAL", "PERSIST");
        const Configuration configuration{"faults", journal_mode, "FULL", 0.0, 1};
        SimDisk disk(RandomStream::named(seed, "disk"));
        const std::string vfs_name = "crash-faults";
        RC_ASSERT(register_sqlite_vfs(disk, vfs_name) == SQLITE_OK);
        // Unregisters even when an assertion ends the case early (RapidCheck throws).
        struct Unregister {
          std::string name;
          ~Unregister() { unregister_sqlite_vfs(name); }
        } unregister{vfs_name};
        seed_sqlite_randomness(static_cast<std::uint32_t>(seed) + 1);
        prepare_disk(configuration, vfs_name, disk);
        DiskFaults faults;
        faults.capacity_bytes =
            disk.used_bytes() + *rc::gen::inRange<std::uint64_t>(20'000, 400'000);
        faults.write_error_probability = *rc::gen::element(0.0, 0.01, 0.05);
        faults.sync_error_probability = *rc::gen::element(0.0, 0.05, 0.2);
        faults.failed_sync_drops_changes = drops;
        faults.torn_write_probability = *rc::gen::element(0.0, 1.0);
        faults.torn_writes_reorder = *rc::gen::arbitrary<bool>();
        disk.set_faults(faults);
        if (*rc::gen::arbitrary<bool>()) {
          disk.arm_crash_point(disk.mutating_call_count() +
                               *rc::gen::inRange<std::uint64_t>(1, 400));
        }
        std::vector<bool> committed(tagged_transactions, false);
        sqlite3* db = open_database(vfs_name);
        if (db != nullptr && apply_pragmas(db, configuration) == SQLITE_OK) {
          for (int t = 0; t < tagged_transactions && !disk.crash_point_reached(); ++t) {
            std::string sql = "BEGIN;";
            for (int row = 0; row < tagged_rows_per_transaction; ++row) {
              sql += "INSERT INTO entries(name, state, payload) VALUES ('t" + std::to_string(t) +
                     "-" + std::to_string(row) + "', 'tag" + std::to_string(t) +
                     "', randomblob(400));";
            }
            sql += "UPDATE entries SET state = 'touched' WHERE id % 13 = " + std::to_string(t) +
                   " AND state = 'received'; COMMIT;";
            if (exec(db, sql) == SQLITE_OK) {
              committed[t] = true;
            } else {
              exec(db, "ROLLBACK");
            }
          }
        }
        sqlite3_close_v2(db);
        disk.set_faults(DiskFaults{.torn_write_probability = faults.torn_write_probability,
                                   .torn_writes_reorder = faults.torn_writes_reorder});
        disk.crash();

        db = open_database(vfs_name);
        if (db == nullptr) RC_FAIL("database does not reopen");
        RC_ASSERT(apply_pragmas(db, configuration) == SQLITE_OK);
        RC_ASSERT(integrity(db) == "ok");
        for (int t = 0; t < tagged_transactions; ++t) {
          sqlite3_stmt* statement = nullptr;
          const std::string count_sql =
              "SELECT count(*) FROM entries WHERE name LIKE 't" + std::to_string(t) + "-%'";
          RC_ASSERT(sqlite3_prepare_v2(db, count_sql.c_str(), -1, &statement, nullptr) ==
                    SQLITE_OK);
          RC_ASSERT(sqlite3_step(statement) == SQLITE_ROW);
          const int rows = sqlite3_column_int(statement, 0);
          sqlite3_finalize(statement);
          RC_ASSERT(rows == 0 || rows == tagged_rows_per_transaction);
          if (committed[t]) RC_ASSERT(rows == tagged_rows_per_transaction);
        }
        sqlite3_close_v2(db);
      },
      60);
}

}  // namespace
}  // namespace s3chaos::sim
