// The persistent record: SQLite metadata plus content files on a sim::FileSystem (see
// storage.hpp and docs/fake_s3.md).
//
// Layout of `directory`:
//   metadata.db (+ -wal)   SQLite, WAL, synchronous=FULL: buckets, objects, uploads, parts,
//                          counters. Every change is one transaction.
//   content/<16 hex>       the bytes of one object or part, named by a generated id
//   content/<16 hex>.tmp   a content file being written (removed when the store opens)
//
// Order of a write, so that a crash at any point leaves a record that opens cleanly and
// holds every object whose write returned success:
//   1. write the bytes to content/<id>.tmp, fsync it, rename it to content/<id>, fsync
//      content/ (the file is complete and its name durable before anything refers to it);
//   2. one SQLite transaction points the object's row at <id> (the commit point);
//   3. remove the replaced content file (a crash before this leaves an orphan, removed when
//      the store next opens).
// A key never becomes a path: content files are named by an id, so keys with "..", "/" or
// any other byte cannot reach outside content/.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "fake_s3/storage.hpp"
#include "s3proto/checksum.hpp"
#include "sim/assert.hpp"
#include "sim/sqlite_statement.hpp"
#include "sim/sqlite_vfs.hpp"

namespace s3chaos::fake_s3 {

namespace {

using sim::SqliteStatement;

constexpr std::size_t content_id_hex_digits = 16;
constexpr std::string_view temporary_suffix = ".tmp";

std::string join(std::string_view directory, std::string_view name) {
  if (directory.empty()) return std::string(name);
  std::string path(directory);
  path += '/';
  path += name;
  return path;
}

std::string parent_of(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

std::string content_name(std::uint64_t id) {
  char name[content_id_hex_digits + 1];
  std::snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(id));
  return name;
}

// The id of a content file name, or nullopt if the name is not one.
std::optional<std::uint64_t> parse_content_name(std::string_view name) {
  if (name.size() != content_id_hex_digits) return std::nullopt;
  std::uint64_t id = 0;
  for (const char c : name) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    id = id * 16 + static_cast<std::uint64_t>(digit);
  }
  return id;
}

std::error_code io_error() {
  return std::make_error_code(std::errc::io_error);
}

std::string metadata_to_json(const UserMetadata& metadata) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [name, value] : metadata) json[name] = value;
  return json.dump();
}

std::string checksums_to_json(const Checksums& checksums) {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& [algorithm, value] : checksums) {
    json.push_back({std::string(s3proto::checksum_algorithm_name(algorithm)), value});
  }
  return json.dump();
}

constexpr const char* schema_sql = R"sql(
CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS buckets(name BLOB PRIMARY KEY, created_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects(
  bucket BLOB NOT NULL, key BLOB NOT NULL, content_id INTEGER NOT NULL,
  content_size INTEGER NOT NULL, content_md5 BLOB NOT NULL,
  version_sequence INTEGER NOT NULL, etag BLOB NOT NULL, last_modified INTEGER NOT NULL,
  content_type BLOB NOT NULL, user_metadata BLOB NOT NULL, checksums BLOB NOT NULL,
  parts_count INTEGER NOT NULL, acked_at INTEGER NOT NULL, durable_at INTEGER NOT NULL,
  rotted_at INTEGER, truncated_by_store INTEGER NOT NULL,
  PRIMARY KEY(bucket, key));
CREATE TABLE IF NOT EXISTS uploads(
  bucket BLOB NOT NULL, upload_id BLOB NOT NULL, key BLOB NOT NULL, upload_number INTEGER NOT NULL,
  initiated INTEGER NOT NULL, content_type BLOB NOT NULL, user_metadata BLOB NOT NULL,
  PRIMARY KEY(bucket, upload_id));
CREATE TABLE IF NOT EXISTS parts(
  bucket BLOB NOT NULL, upload_id BLOB NOT NULL, part_number INTEGER NOT NULL,
  etag BLOB NOT NULL, md5 BLOB NOT NULL, last_modified INTEGER NOT NULL,
  content_id INTEGER NOT NULL, content_size INTEGER NOT NULL,
  PRIMARY KEY(bucket, upload_id, part_number));
)sql";

class PersistentStorage final : public ObjectStorage {
 public:
  PersistentStorage(sim::FileSystem& file_system, std::string directory,
                    PersistentStorageOptions options)
      : file_system_(file_system),
        directory_(std::move(directory)),
        content_directory_(join(directory_, "content")),
        options_(options),
        vfs_name_("fake_s3-storage-" + std::to_string(next_vfs_number_++)) {
    try {
      open();
    } catch (...) {
      close();  // the destructor does not run for a constructor that throws
      throw;
    }
  }

  ~PersistentStorage() override { close(); }

  std::string_view kind() const override { return "persistent"; }

  StoredState load() override {
    StoredState state;
    {
      SqliteStatement select(db_, "SELECT name, value FROM counters");
      while (select.step() == SQLITE_ROW) {
        const std::string name = select.column_text(0);
        const auto value = static_cast<std::uint64_t>(select.column_int(1));
        if (name == "next_version_sequence") state.next_version_sequence = value;
        if (name == "next_upload_number") state.next_upload_number = value;
      }
    }
    {
      SqliteStatement select(db_, "SELECT name, created_at FROM buckets ORDER BY name");
      int step = SQLITE_ROW;
      while ((step = select.step()) == SQLITE_ROW) {
        state.buckets.push_back({select.column_text(0), select.column_int(1)});
      }
      check_done(step, "buckets");
    }
    {
      SqliteStatement select(db_,
                             "SELECT bucket, key, content_id, content_size, content_md5, "
                             "version_sequence, etag, last_modified, content_type, user_metadata, "
                             "checksums, parts_count, acked_at, durable_at, rotted_at, "
                             "truncated_by_store FROM objects ORDER BY bucket, key");
      int step = SQLITE_ROW;
      while ((step = select.step()) == SQLITE_ROW) {
        StoredObject object;
        object.bucket = select.column_text(0);
        object.meta.key = select.column_text(1);
        const std::string what = "object /" + object.bucket + "/" + object.meta.key;
        object.bytes = read_content(static_cast<std::uint64_t>(select.column_int(2)),
                                    static_cast<std::uint64_t>(select.column_int(3)),
                                    select.column_text(4), what);
        object.version_sequence = static_cast<std::uint64_t>(select.column_int(5));
        object.meta.etag = select.column_text(6);
        object.meta.size_bytes = object.bytes->size();
        object.meta.last_modified = select.column_int(7);
        object.meta.content_type = select.column_text(8);
        object.meta.user_metadata = parse_metadata(select.column_text(9), what);
        object.meta.checksums = parse_checksums(select.column_text(10), what);
        object.meta.parts_count = static_cast<int>(select.column_int(11));
        object.acked_at = select.column_int(12);
        object.durable_at = select.column_int(13);
        if (!select.is_null(14)) object.rotted_at = select.column_int(14);
        object.truncated_by_store = select.column_int(15) != 0;
        state.next_version_sequence =
            std::max(state.next_version_sequence, object.version_sequence + 1);
        state.objects.push_back(std::move(object));
      }
      check_done(step, "objects");
    }
    {
      SqliteStatement select(
          db_,
          "SELECT bucket, upload_id, key, upload_number, initiated, content_type, "
          "user_metadata FROM uploads ORDER BY bucket, upload_id");
      int step = SQLITE_ROW;
      while ((step = select.step()) == SQLITE_ROW) {
        StoredUpload upload;
        upload.bucket = select.column_text(0);
        upload.upload_id = select.column_text(1);
        upload.key = select.column_text(2);
        upload.upload_number = static_cast<std::uint64_t>(select.column_int(3));
        upload.initiated = select.column_int(4);
        upload.content_type = select.column_text(5);
        upload.user_metadata = parse_metadata(select.column_text(6), "upload " + upload.upload_id);
        state.next_upload_number = std::max(state.next_upload_number, upload.upload_number + 1);
        state.uploads.push_back(std::move(upload));
      }
      check_done(step, "uploads");
    }
    for (StoredUpload& upload : state.uploads) {
      SqliteStatement select(
          db_,
          "SELECT part_number, etag, md5, last_modified, content_id, content_size "
          "FROM parts WHERE bucket = ?1 AND upload_id = ?2 ORDER BY part_number");
      select.bind_blob(1, upload.bucket).bind_blob(2, upload.upload_id);
      int step = SQLITE_ROW;
      while ((step = select.step()) == SQLITE_ROW) {
        StoredPart part;
        part.part_number = static_cast<int>(select.column_int(0));
        part.etag = select.column_text(1);
        const std::string md5 = select.column_text(2);
        const std::string what =
            "part " + std::to_string(part.part_number) + " of upload " + upload.upload_id;
        if (md5.size() != part.md5.size()) throw damaged(what + ": its MD5 is not 16 bytes");
        std::memcpy(part.md5.data(), md5.data(), part.md5.size());
        part.last_modified = select.column_int(3);
        part.bytes = read_content(static_cast<std::uint64_t>(select.column_int(4)),
                                  static_cast<std::uint64_t>(select.column_int(5)), md5, what);
        upload.parts.push_back(std::move(part));
      }
      check_done(step, "parts");
    }
    return state;
  }

  std::error_code put_bucket(const StoredBucket& bucket) override {
    Transaction transaction(*this);
    SqliteStatement insert(db_, "INSERT OR REPLACE INTO buckets(name, created_at) VALUES(?1, ?2)");
    insert.bind_blob(1, bucket.name).bind(2, bucket.created_at);
    if (insert.step() != SQLITE_DONE) return io_error();
    return transaction.commit();
  }

  std::error_code remove_bucket(std::string_view name) override {
    Transaction transaction(*this);
    SqliteStatement remove(db_, "DELETE FROM buckets WHERE name = ?1");
    remove.bind_blob(1, name);
    if (remove.step() != SQLITE_DONE) return io_error();
    return transaction.commit();
  }

  std::error_code put_object(const StoredObject& object) override {
    std::uint64_t content_id = 0;
    if (auto error = write_content(*object.bytes, content_id)) return error;
    std::vector<std::uint64_t> replaced;
    {
      Transaction transaction(*this);
      if (auto error = record_object(object, content_id, replaced)) return error;
      if (auto error = transaction.commit()) return error;
    }
    remove_contents(replaced);
    return {};
  }

  std::error_code remove_object(std::string_view bucket, std::string_view key,
                                std::uint64_t version_sequence) override {
    std::vector<std::uint64_t> replaced;
    {
      Transaction transaction(*this);
      if (auto error = object_content(bucket, key, replaced)) return error;
      SqliteStatement remove(db_, "DELETE FROM objects WHERE bucket = ?1 AND key = ?2");
      remove.bind_blob(1, bucket).bind_blob(2, key);
      if (remove.step() != SQLITE_DONE) return io_error();
      if (auto error = raise_counter("next_version_sequence", version_sequence + 1)) return error;
      if (auto error = transaction.commit()) return error;
    }
    remove_contents(replaced);
    return {};
  }

  std::error_code put_upload(const StoredUpload& upload) override {
    Transaction transaction(*this);
    SqliteStatement insert(
        db_,
        "INSERT OR REPLACE INTO uploads(bucket, upload_id, key, upload_number, "
        "initiated, content_type, user_metadata) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    insert.bind_blob(1, upload.bucket)
        .bind_blob(2, upload.upload_id)
        .bind_blob(3, upload.key)
        .bind(4, static_cast<std::int64_t>(upload.upload_number))
        .bind(5, upload.initiated)
        .bind_blob(6, upload.content_type)
        .bind_blob(7, metadata_to_json(upload.user_metadata));
    if (insert.step() != SQLITE_DONE) return io_error();
    if (auto error = raise_counter("next_upload_number", upload.upload_number + 1)) return error;
    return transaction.commit();
  }

  std::error_code put_part(std::string_view bucket, std::string_view upload_id,
                           const StoredPart& part) override {
    std::uint64_t content_id = 0;
    if (auto error = write_content(*part.bytes, content_id)) return error;
    std::vector<std::uint64_t> replaced;
    {
      Transaction transaction(*this);
      if (auto error = part_content(bucket, upload_id, part.part_number, replaced)) return error;
      SqliteStatement insert(
          db_,
          "INSERT OR REPLACE INTO parts(bucket, upload_id, part_number, etag, md5, "
          "last_modified, content_id, content_size) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
      insert.bind_blob(1, bucket)
          .bind_blob(2, upload_id)
          .bind(3, std::int64_t{part.part_number})
          .bind_blob(4, part.etag)
          .bind_blob(
              5, std::string_view(reinterpret_cast<const char*>(part.md5.data()), part.md5.size()))
          .bind(6, part.last_modified)
          .bind(7, static_cast<std::int64_t>(content_id))
          .bind(8, static_cast<std::int64_t>(part.bytes->size()));
      if (insert.step() != SQLITE_DONE) return io_error();
      if (auto error = transaction.commit()) return error;
    }
    remove_contents(replaced);
    return {};
  }

  std::error_code remove_part(std::string_view bucket, std::string_view upload_id,
                              int part_number) override {
    std::vector<std::uint64_t> replaced;
    {
      Transaction transaction(*this);
      if (auto error = part_content(bucket, upload_id, part_number, replaced)) return error;
      SqliteStatement remove(db_,
                             "DELETE FROM parts WHERE bucket = ?1 AND upload_id = ?2 AND "
                             "part_number = ?3");
      remove.bind_blob(1, bucket).bind_blob(2, upload_id).bind(3, std::int64_t{part_number});
      if (remove.step() != SQLITE_DONE) return io_error();
      if (auto error = transaction.commit()) return error;
    }
    remove_contents(replaced);
    return {};
  }

  std::error_code remove_upload(std::string_view bucket, std::string_view upload_id) override {
    std::vector<std::uint64_t> replaced;
    {
      Transaction transaction(*this);
      if (auto error = end_upload(bucket, upload_id, replaced)) return error;
      if (auto error = transaction.commit()) return error;
    }
    remove_contents(replaced);
    return {};
  }

  std::error_code complete_upload(const StoredObject& object, std::string_view upload_id) override {
    std::uint64_t content_id = 0;
    if (auto error = write_content(*object.bytes, content_id)) return error;
    std::vector<std::uint64_t> replaced;
    {
      Transaction transaction(*this);
      if (auto error = record_object(object, content_id, replaced)) return error;
      if (auto error = end_upload(object.bucket, upload_id, replaced)) return error;
      if (auto error = transaction.commit()) return error;
    }
    remove_contents(replaced);
    return {};
  }

 private:
  // BEGIN on construction; ROLLBACK on destruction unless commit() succeeded.
  class Transaction {
   public:
    explicit Transaction(PersistentStorage& storage) : storage_(storage) {
      began_ =
          sqlite3_exec(storage_.db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    }
    ~Transaction() {
      if (began_ && !committed_) sqlite3_exec(storage_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    std::error_code commit() {
      if (!began_) return io_error();
      if (sqlite3_exec(storage_.db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
        return io_error();
      }
      committed_ = true;
      return {};
    }

   private:
    PersistentStorage& storage_;
    bool began_ = false;
    bool committed_ = false;
  };

  StorageError damaged(const std::string& what) const {
    return StorageError("fake_s3 storage in '" + directory_ + "': " + what);
  }

  void check_done(int step, std::string_view table) const {
    if (step != SQLITE_DONE) {
      throw damaged("reading table " + std::string(table) + " failed: " + sqlite3_errmsg(db_));
    }
  }

  void open() {
    auto fail = [this](const std::string& what, std::error_code error) {
      close();
      throw damaged(what + ": " + error.message());
    };
    // The directories, made durable: a content file renamed into an unsynced directory
    // could vanish with it.
    if (!directory_.empty()) {
      if (auto error = file_system_.make_directory(directory_)) fail("cannot create it", error);
    }
    if (auto error = file_system_.make_directory(content_directory_)) {
      fail("cannot create " + content_directory_, error);
    }
    // make_directory may have created every component: sync each one's parent, root first.
    for (std::size_t end = 0; end != std::string::npos;) {
      end = directory_.find('/', end + 1);
      const std::string created = directory_.substr(0, end);
      if (auto error = file_system_.sync_directory(parent_of(created))) {
        fail("cannot sync the parent of " + created, error);
      }
    }
    if (auto error = file_system_.sync_directory(directory_)) fail("cannot sync it", error);

    sim::SqliteVfsOptions vfs_options;
    vfs_options.random_seed = sim::stable_hash64("fake_s3.storage", 0);
    if (sim::register_sqlite_vfs(file_system_, vfs_name_, vfs_options) != SQLITE_OK) {
      throw damaged("cannot register SQLite VFS " + vfs_name_);
    }
    vfs_registered_ = true;
    const std::string db_path = join(directory_, "metadata.db");
    if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        vfs_name_.c_str()) != SQLITE_OK) {
      const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
      close();
      throw damaged("cannot open " + db_path + ": " + message);
    }
    auto exec = [this, &db_path](const char* sql) {
      char* message = nullptr;
      if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
        std::string text = message ? message : sqlite3_errmsg(db_);
        sqlite3_free(message);
        close();
        throw damaged(db_path + ": " + text);
      }
    };
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("BEGIN IMMEDIATE");
    exec(schema_sql);
    exec("COMMIT");
    remove_leftovers();
  }

  void close() {
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
    if (vfs_registered_) sim::unregister_sqlite_vfs(vfs_name_);
    vfs_registered_ = false;
  }

  // Finishes what a crash interrupted: temporary files and content files no row refers to
  // (written but never committed, or replaced but not yet removed) go away.
  void remove_leftovers() {
    std::set<std::uint64_t> referenced;
    for (const char* sql : {"SELECT content_id FROM objects", "SELECT content_id FROM parts"}) {
      SqliteStatement select(db_, sql);
      int step = SQLITE_ROW;
      while ((step = select.step()) == SQLITE_ROW) {
        referenced.insert(static_cast<std::uint64_t>(select.column_int(0)));
      }
      check_done(step, "content ids");
    }
    std::vector<std::string> names;
    if (auto error = file_system_.list_directory(content_directory_, names)) {
      close();
      throw damaged("cannot list " + content_directory_ + ": " + error.message());
    }
    std::uint64_t highest = referenced.empty() ? 0 : *referenced.rbegin();
    bool removed = false;
    for (const std::string& name : names) {
      const std::string_view stem =
          name.size() > temporary_suffix.size() &&
                  std::string_view(name).substr(name.size() - temporary_suffix.size()) ==
                      temporary_suffix
              ? std::string_view(name).substr(0, name.size() - temporary_suffix.size())
              : std::string_view(name);
      const auto id = parse_content_name(stem);
      if (id) highest = std::max(highest, *id);
      if (id && stem.size() == name.size() && referenced.count(*id) > 0) continue;
      if (auto error = file_system_.remove(join(content_directory_, name))) {
        close();
        throw damaged("cannot remove leftover " + name + ": " + error.message());
      }
      removed = true;
    }
    if (removed) {
      if (auto error = file_system_.sync_directory(content_directory_)) {
        close();
        throw damaged("cannot sync " + content_directory_ + ": " + error.message());
      }
    }
    next_content_id_ = highest + 1;
  }

  // Step 1 of a write: the bytes in a complete, durable content file named by a fresh id.
  std::error_code write_content(std::string_view bytes, std::uint64_t& id) {
    id = next_content_id_++;
    const std::string path = join(content_directory_, content_name(id));
    const std::string temporary = path + std::string(temporary_suffix);
    std::error_code error = file_system_.create_file(temporary);
    if (!error && !bytes.empty()) error = file_system_.write_at(temporary, 0, bytes);
    if (!error) error = file_system_.sync_file(temporary);
    if (!error) error = file_system_.rename(temporary, path);
    if (error) {
      (void)file_system_.remove(temporary);  // best effort; the next open removes it anyway
      return error;
    }
    if (options_.sync_directories) error = file_system_.sync_directory(content_directory_);
    // On a failed directory sync the file stays: it is unreferenced, so the next open removes
    // it, and removing it now could race nothing but also gains nothing.
    return error;
  }

  std::shared_ptr<const std::string> read_content(std::uint64_t id, std::uint64_t size,
                                                  std::string_view md5, const std::string& what) {
    const std::string path = join(content_directory_, content_name(id));
    std::uint64_t actual_size = 0;
    if (auto error = file_system_.file_size(path, actual_size)) {
      throw damaged(what + ": content file " + path + ": " + error.message());
    }
    if (actual_size != size) {
      throw damaged(what + ": content file " + path + " has " + std::to_string(actual_size) +
                    " bytes, the record says " + std::to_string(size));
    }
    std::string bytes;
    if (auto error = file_system_.read_at(path, 0, size, bytes)) {
      throw damaged(what + ": content file " + path + ": " + error.message());
    }
    const auto digest = s3proto::md5(bytes);
    if (bytes.size() != size || md5.size() != digest.size() ||
        std::memcmp(md5.data(), digest.data(), digest.size()) != 0) {
      throw damaged(what + ": content file " + path + " does not match its recorded MD5");
    }
    return std::make_shared<const std::string>(std::move(bytes));
  }

  std::error_code raise_counter(std::string_view name, std::uint64_t at_least) {
    SqliteStatement upsert(db_,
                           "INSERT INTO counters(name, value) VALUES(?1, ?2) ON CONFLICT(name) DO "
                           "UPDATE SET value = max(value, excluded.value)");
    upsert.bind_blob(1, name).bind(2, static_cast<std::int64_t>(at_least));
    return upsert.step() == SQLITE_DONE ? std::error_code() : io_error();
  }

  std::error_code object_content(std::string_view bucket, std::string_view key,
                                 std::vector<std::uint64_t>& ids) {
    SqliteStatement select(db_, "SELECT content_id FROM objects WHERE bucket = ?1 AND key = ?2");
    select.bind_blob(1, bucket).bind_blob(2, key);
    int step = SQLITE_ROW;
    while ((step = select.step()) == SQLITE_ROW) {
      ids.push_back(static_cast<std::uint64_t>(select.column_int(0)));
    }
    return step == SQLITE_DONE ? std::error_code() : io_error();
  }

  std::error_code part_content(std::string_view bucket, std::string_view upload_id,
                               std::optional<int> part_number, std::vector<std::uint64_t>& ids) {
    SqliteStatement select(db_, part_number ? "SELECT content_id FROM parts WHERE bucket = ?1 AND "
                                              "upload_id = ?2 AND part_number = ?3"
                                            : "SELECT content_id FROM parts WHERE bucket = ?1 AND "
                                              "upload_id = ?2");
    select.bind_blob(1, bucket).bind_blob(2, upload_id);
    if (part_number) select.bind(3, std::int64_t{*part_number});
    int step = SQLITE_ROW;
    while ((step = select.step()) == SQLITE_ROW) {
      ids.push_back(static_cast<std::uint64_t>(select.column_int(0)));
    }
    return step == SQLITE_DONE ? std::error_code() : io_error();
  }

  // Inside a transaction: points (bucket, key) at `content_id`, noting the replaced content.
  std::error_code record_object(const StoredObject& object, std::uint64_t content_id,
                                std::vector<std::uint64_t>& replaced) {
    if (auto error = object_content(object.bucket, object.meta.key, replaced)) return error;
    const auto md5 = s3proto::md5(*object.bytes);
    SqliteStatement insert(
        db_,
        "INSERT OR REPLACE INTO objects(bucket, key, content_id, content_size, "
        "content_md5, version_sequence, etag, last_modified, content_type, "
        "user_metadata, checksums, parts_count, acked_at, durable_at, rotted_at, "
        "truncated_by_store) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
        "?12, ?13, ?14, ?15, ?16)");
    insert.bind_blob(1, object.bucket)
        .bind_blob(2, object.meta.key)
        .bind(3, static_cast<std::int64_t>(content_id))
        .bind(4, static_cast<std::int64_t>(object.bytes->size()))
        .bind_blob(5, std::string_view(reinterpret_cast<const char*>(md5.data()), md5.size()))
        .bind(6, static_cast<std::int64_t>(object.version_sequence))
        .bind_blob(7, object.meta.etag)
        .bind(8, object.meta.last_modified)
        .bind_blob(9, object.meta.content_type)
        .bind_blob(10, metadata_to_json(object.meta.user_metadata))
        .bind_blob(11, checksums_to_json(object.meta.checksums))
        .bind(12, std::int64_t{object.meta.parts_count})
        .bind(13, object.acked_at)
        .bind(14, object.durable_at);
    if (object.rotted_at) {
      insert.bind(15, *object.rotted_at);
    } else {
      insert.bind_null(15);
    }
    insert.bind(16, std::int64_t{object.truncated_by_store ? 1 : 0});
    if (insert.step() != SQLITE_DONE) return io_error();
    return raise_counter("next_version_sequence", object.version_sequence + 1);
  }

  // Inside a transaction: removes an upload and its parts, noting their content.
  std::error_code end_upload(std::string_view bucket, std::string_view upload_id,
                             std::vector<std::uint64_t>& replaced) {
    if (auto error = part_content(bucket, upload_id, std::nullopt, replaced)) return error;
    for (const char* sql : {"DELETE FROM parts WHERE bucket = ?1 AND upload_id = ?2",
                            "DELETE FROM uploads WHERE bucket = ?1 AND upload_id = ?2"}) {
      SqliteStatement remove(db_, sql);
      remove.bind_blob(1, bucket).bind_blob(2, upload_id);
      if (remove.step() != SQLITE_DONE) return io_error();
    }
    return {};
  }

  // Step 3: content no row refers to any more. Failures are left to the next open.
  void remove_contents(const std::vector<std::uint64_t>& ids) {
    for (const std::uint64_t id : ids) {
      (void)file_system_.remove(join(content_directory_, content_name(id)));
    }
  }

  UserMetadata parse_metadata(const std::string& text, const std::string& what) const {
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_object()) throw damaged(what + ": user metadata is not a JSON object");
    UserMetadata metadata;
    for (const auto& [name, value] : json.items()) {
      if (!value.is_string()) throw damaged(what + ": user metadata value is not a string");
      metadata[name] = value.get<std::string>();
    }
    return metadata;
  }

  Checksums parse_checksums(const std::string& text, const std::string& what) const {
    const nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_array()) throw damaged(what + ": checksums are not a JSON array");
    Checksums checksums;
    for (const auto& entry : json) {
      if (!entry.is_array() || entry.size() != 2 || !entry[0].is_string() ||
          !entry[1].is_string()) {
        throw damaged(what + ": a checksum is not [algorithm, value]");
      }
      const auto algorithm = s3proto::parse_checksum_algorithm(entry[0].get<std::string>());
      if (!algorithm) throw damaged(what + ": unknown checksum algorithm");
      checksums.emplace_back(*algorithm, entry[1].get<std::string>());
    }
    return checksums;
  }

  static inline std::atomic<std::uint64_t> next_vfs_number_{1};

  sim::FileSystem& file_system_;
  std::string directory_;
  std::string content_directory_;
  PersistentStorageOptions options_;
  std::string vfs_name_;
  bool vfs_registered_ = false;
  sqlite3* db_ = nullptr;
  std::uint64_t next_content_id_ = 1;
};

}  // namespace

std::unique_ptr<ObjectStorage> open_persistent_storage(sim::FileSystem& file_system,
                                                       std::string directory,
                                                       PersistentStorageOptions options) {
  return std::make_unique<PersistentStorage>(file_system, std::move(directory), options);
}

}  // namespace s3chaos::fake_s3
