// Where the S3 core keeps what must survive a restart of the service.
//
// The core (core.hpp) keeps its working state in memory: every bucket, every key's versions
// (volatile and durable), multipart uploads and the ground truth. An ObjectStorage is the
// durable record behind it. The core writes to it only what a real S3 would still hold after
// a restart, and only once that is true:
// - buckets, when created and deleted;
// - the newest DURABLE version of every key (a PUT, CopyObject or CompleteMultipartUpload
//   with no durability lag at once, before it is acknowledged; a volatile one when its lag
//   expires, if no newer durable version has replaced it by then); a durable delete removes
//   the key. Volatile versions are never recorded: by definition a restart loses them;
// - multipart uploads and their parts (S3 acknowledges a part only once it is stored, and an
//   upload survives a restart of the service), removed on Complete and Abort.
// Opening a core over a storage (S3Core(settings, storage)) restores all of it.
//
// A record operation returns an error when the storage could not make the change durable;
// the core then answers 500 InternalError and changes nothing the client can see. Nothing
// here throws after opening except StorageError from load() on a damaged record.
//
// Two implementations:
// - make_memory_storage(): the record in memory (no disk, no copying of bytes: a record
//   shares the version's byte buffer). A core reopened over the same storage object sees
//   what a restarted S3 would. Tests use it as the reference the persistent one must match.
// - open_persistent_storage(): SQLite metadata plus one content file per object or part, in
//   a directory of a sim::FileSystem: sim::SimDisk in tests (with every crash point
//   enumerated), sim::PosixFileSystem in the fake-s3 server. See docs/fake_s3.md.
//
// The core with no storage at all (S3Core(settings)) is what the simulation uses: it keeps no
// record, and a death is modelled on the working state itself (S3Core::kill).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "fake_s3/core.hpp"
#include "sim/file_system.hpp"

namespace s3chaos::fake_s3 {

// A storage that cannot be opened or whose record is damaged. what() names the directory,
// the object or table, and what is wrong.
class StorageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct StoredBucket {
  std::string name;
  TimeNs created_at = 0;
};

// One durable object version as the record holds it.
struct StoredObject {
  std::string bucket;
  ObjectMeta meta;  // meta.key is the key
  std::uint64_t version_sequence = 0;
  TimeNs acked_at = 0;
  TimeNs durable_at = 0;
  std::optional<TimeNs> rotted_at;
  bool truncated_by_store = false;
  std::shared_ptr<const std::string> bytes;  // never null
};

struct StoredPart {
  int part_number = 0;
  std::string etag;  // quoted
  std::array<unsigned char, 16> md5{};
  TimeNs last_modified = 0;
  std::shared_ptr<const std::string> bytes;  // never null
};

struct StoredUpload {
  std::string bucket;
  std::string key;
  std::string upload_id;
  std::uint64_t upload_number = 0;  // the core's counter when the upload was created
  TimeNs initiated = 0;
  std::string content_type;
  UserMetadata user_metadata;
  std::vector<StoredPart> parts;  // ascending part numbers (empty in put_upload)
};

// Everything a storage holds, in a deterministic order: buckets by name, objects by
// (bucket, key), uploads by (bucket, upload id).
struct StoredState {
  std::vector<StoredBucket> buckets;
  std::vector<StoredObject> objects;
  std::vector<StoredUpload> uploads;
  // Above every version sequence and upload number the storage has recorded.
  std::uint64_t next_version_sequence = 1;
  std::uint64_t next_upload_number = 1;
};

class ObjectStorage {
 public:
  virtual ~ObjectStorage() = default;

  // "memory" or "persistent".
  virtual std::string_view kind() const = 0;
  // Everything recorded. Throws StorageError if the record is damaged (a content file
  // missing, short or not matching its digest).
  virtual StoredState load() = 0;

  virtual std::error_code put_bucket(const StoredBucket& bucket) = 0;
  virtual std::error_code remove_bucket(std::string_view name) = 0;
  // Records `object` as the one version of (object.bucket, object.meta.key), replacing any.
  // Durable when it returns no error.
  virtual std::error_code put_object(const StoredObject& object) = 0;
  // Removes the key (no error if absent). `version_sequence` is the delete's sequence.
  virtual std::error_code remove_object(std::string_view bucket, std::string_view key,
                                        std::uint64_t version_sequence) = 0;
  // Records a new upload (its parts are recorded by put_part).
  virtual std::error_code put_upload(const StoredUpload& upload) = 0;
  // Records a part, replacing one with the same number.
  virtual std::error_code put_part(std::string_view bucket, std::string_view upload_id,
                                   const StoredPart& part) = 0;
  virtual std::error_code remove_part(std::string_view bucket, std::string_view upload_id,
                                      int part_number) = 0;
  // Removes an upload and its parts (Abort, or Complete with a durability lag).
  virtual std::error_code remove_upload(std::string_view bucket, std::string_view upload_id) = 0;
  // Complete with no lag: records `object` and removes the upload, atomically.
  virtual std::error_code complete_upload(const StoredObject& object,
                                          std::string_view upload_id) = 0;
};

std::unique_ptr<ObjectStorage> make_memory_storage();

struct PersistentStorageOptions {
  // TEST ONLY. false skips the fsync of the content directory after a content file is
  // renamed into place, which makes the store lose acknowledged objects at some crash
  // points; the crash-point test uses it to show that it can fail.
  bool sync_directories = true;
};

// Opens (creating it if needed) the store in `directory` of `file_system`: `directory`/
// metadata.db (SQLite, WAL, synchronous=FULL) and `directory`/content/ (one file per object
// and part, named by a generated id, never by its key). Opening finishes what a crash
// interrupted: it removes temporary files and content files no record refers to. Throws
// StorageError with the path and the reason if the directory or the database cannot be
// opened. `file_system` must outlive the storage. `directory` is a FileSystem path
// ("data", "srv/fake-s3"; "" is the file system's root).
std::unique_ptr<ObjectStorage> open_persistent_storage(sim::FileSystem& file_system,
                                                       std::string directory,
                                                       PersistentStorageOptions options = {});

}  // namespace s3chaos::fake_s3
