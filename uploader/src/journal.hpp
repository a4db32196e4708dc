// The uploader's SQLite journal: one row per photo, one row per (photo, target) copy.
//
// Every write is its own transaction under synchronous=FULL, so a call that returns true has
// made its change durable (as durable as the VFS's sync makes it). Every call returns false
// on any SQLite error and leaves the connection usable for a later retry; nothing throws.
//
// Group commit of copy records: stage_copy() only remembers a copy's new state; the records
// staged so far are written inside the next transaction the journal runs (an ingest, an
// eviction, any write) or by flush_staged(), and stay staged if that transaction fails. A
// crash loses what is still staged, which recovery tolerates: it PUTs a copy the journal shows
// pending again (idempotent) and reads back one it shows uploaded or verified before evicting.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "uploader/uploader.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace s3chaos::uploader {

class Journal {
 public:
  Journal() = default;
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Opens (creating if needed) the database at `path` on VFS `vfs_name` ("" = default), sets
  // synchronous=FULL and the journal mode, creates the schema.
  bool open(const std::string& path, const std::string& vfs_name, const std::string& journal_mode,
            std::string& error);
  bool is_open() const { return db_ != nullptr; }

  // Increments and returns the durable boot counter (nullopt on failure).
  std::optional<std::uint32_t> next_boot();

  // Inserts a photo (in photo.state, with photo.content_name) and one pending copy row per
  // target, in one transaction. The key is key_prefix + the new row id (12 digits) unless
  // `fixed_key` is given. Returns the row id.
  std::optional<std::int64_t> insert_photo(const PhotoView& photo, std::size_t target_count,
                                           const std::string& key_prefix,
                                           const std::optional<std::string>& fixed_key,
                                           std::string& object_key);
  // Group commit: inserts every photo of `photos` as insert_photo does, all in ONE
  // transaction (one commit, so one set of journal syncs for the batch). On success
  // `row_ids` and `object_keys` hold one entry per photo, in order; on failure nothing is
  // inserted. `fixed_keys` is empty or has one entry per photo.
  bool insert_photos(const std::vector<PhotoView>& photos, std::size_t target_count,
                     const std::string& key_prefix,
                     const std::vector<std::optional<std::string>>& fixed_keys,
                     std::vector<std::int64_t>& row_ids, std::vector<std::string>& object_keys);
  // Like every write, commits the staged copy records with it (for an eviction, among them
  // the verifications that permit it).
  bool set_state(std::int64_t row_id, PhotoState state);
  bool delete_photo(std::int64_t row_id);

  // Stages a copy's state for the next transaction, replacing what was staged for that copy.
  void stage_copy(std::int64_t row_id, std::size_t target, const CopyView& copy);
  // Writes the staged records in a transaction of their own (true if none are staged).
  bool flush_staged();
  bool has_staged() const { return !staged_.empty(); }

  // Every photo with its copies, sorted by row id (nullopt on failure).
  std::optional<std::vector<PhotoView>> load();

  std::string last_error() const;

 private:
  // The statements of one insert, inside a transaction the caller opened.
  std::optional<std::int64_t> insert_row(const PhotoView& photo, std::size_t target_count,
                                         const std::string& key_prefix,
                                         const std::optional<std::string>& fixed_key,
                                         std::string& object_key);
  bool exec(const char* sql);

 public:
  // The statements the journal runs, each prepared once per connection and reused (a
  // prepare parses its SQL again: more CPU than the simulated commit it belongs to).
  enum class Sql : std::size_t {
    begin,
    commit,
    rollback,
    select_boot,
    upsert_boot,
    select_stale_row,
    insert_photo,
    update_object_key,
    insert_copy,
    set_state,
    update_copy,
    insert_copy_state,
    delete_photo,
    delete_copies,
    load_photos,
    load_copies,
    count,
  };

 private:
  // The prepared statement for `sql` (prepared on first use), or nullptr if preparing failed
  // (nothing is cached then, so a later call tries again, as a fresh prepare would).
  sqlite3_stmt* prepared(Sql sql);
  // Runs a statement without parameters or rows (BEGIN, COMMIT, ROLLBACK): true on DONE.
  bool run(Sql sql);
  // Runs `body` (returning true on success) between BEGIN IMMEDIATE and COMMIT; rolls back
  // when the body or the commit fails. Defined in journal.cpp, its only user.
  template <typename Body>
  bool transaction(Body&& body);
  // Deletes a photo's row and its copies' rows, inside the caller's transaction.
  bool delete_rows(std::int64_t row_id);
  // The statements of set_state and of one staged copy record, inside the caller's
  // transaction.
  bool write_state(std::int64_t row_id, PhotoState state);
  bool write_copy(std::int64_t row_id, std::size_t target, const CopyView& copy);
  // Staged copy records, keyed (row id, target): written in row order, so the same history
  // writes the same pages in the same order.
  std::map<std::pair<std::int64_t, std::size_t>, CopyView> staged_;
  void finalize_statements();
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, static_cast<std::size_t>(Sql::count)> statements_{};
};

// "photos/000000000042" for prefix "photos/" and row 42.
std::string durable_object_key(const std::string& key_prefix, std::int64_t row_id);

}  // namespace s3chaos::uploader
