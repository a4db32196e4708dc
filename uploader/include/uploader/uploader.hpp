// The photo-uploader core: a sans-I/O state machine plus its SQLite journal.
//
// PhotoShare's app server of 2008, rebuilt: it takes photos from phones, acknowledges them
// only when they are durable locally, keeps accepting while the object store is down, moves
// them to the store in the background, and deletes its local copy only when the store
// provably holds the photo (docs/uploader.md).
//
// How a driver runs it (the simulator and the Beast runtime alike):
//   Uploader u(file_system, settings, random_stream);
//   actions = u.start(now);                     // recover from the journal, then resume
//   actions = u.on_photo(now, arrival);         // a phone posted a photo
//   actions = u.on_response(now, response);     // the store answered request response.id
//   actions = u.on_timer(now);                  // the last SetTimer came due
// and carries out each returned Action in order: answer the phone (AcknowledgePhoto /
// RefusePhoto), send an ObjectStoreRequest, (re)arm its one timer (SetTimer replaces any
// earlier one), record PhotoEvicted / LocalCopyLost.
//
// Time and randomness come in from outside (`now` on every call, a RandomStream for backoff
// jitter); sockets never appear here. `now` is journaled (the time of a PUT's 200), so it
// must come from a clock that survives restarts: the simulation's clock, or nanoseconds since
// the Unix epoch in production. Durable local state is the exception, FoundationDB
// style: content files go synchronously through the injected sim::FileSystem and the journal
// through SQLite opened on the VFS named in Settings (sim::register_sqlite_vfs over the same
// FileSystem: SimDisk in simulation, PosixFileSystem in production). Every failing
// file-system or SQLite call is handled:
// a photo is refused (never acknowledged) and nothing aborts.
//
// A crash is modelled by destroying the Uploader (and crashing the disk under it), then
// constructing a new one over the same FileSystem and calling start() again. Responses to
// requests of a dead incarnation are ignored (their ids cannot match).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "s3proto/checksum.hpp"
#include "sim/file_system.hpp"
#include "sim/random.hpp"
#include "sim/time.hpp"
#include "uploader/object_store.hpp"
#include "uploader/policy.hpp"

namespace s3chaos::uploader {

// One place a copy of each photo must go: a bucket at a vendor (the driver maps the index to
// an endpoint).
struct Target {
  std::string name = "primary";
  std::string bucket = "photos";
};

enum class VerifyMethod {
  head,  // HEAD: the ETag equals the MD5 of the photo and the size matches.
  get,   // GET: the body's checksum equals the client's checksum (and the size matches).
};

struct Settings {
  // Where content files live, as a path of the injected FileSystem ("" is its root).
  std::string data_directory = "uploader";
  // The path handed to sqlite3_open_v2. Empty: data_directory + "/journal.sqlite", right for
  // sim::register_sqlite_vfs over the same FileSystem (SimDisk in simulation,
  // PosixFileSystem in production), whose paths are FileSystem paths.
  std::string journal_path;
  // The SQLite VFS to open the journal on ("" is SQLite's default VFS, which sees real paths).
  std::string sqlite_vfs_name;
  // SQLite journal mode. TRUNCATE (or WAL) with synchronous=FULL is durable at commit;
  // DELETE with FULL is not (the journal's unlink is not synced; see docs/disk.md).
  std::string sqlite_journal_mode = "TRUNCATE";

  std::vector<Target> targets = {Target{}};
  // How many targets must hold a verified copy before the local copy is evicted.
  std::size_t targets_required = 1;
  // Object keys are key_prefix + a durable 12-digit row id.
  std::string key_prefix = "photos/";

  // Back-pressure: refuse (503 + Retry-After) a photo that would push the local cache over
  // either limit. The cache holds every photo not yet evicted.
  std::uint64_t cache_bytes_max = 256ull << 20;
  std::uint64_t cache_photos_max = 100'000;
  std::int64_t retry_after_seconds = 5;
  // Bad input limits (refused with 413 / 400).
  std::uint64_t photo_bytes_max = 32ull << 20;
  std::size_t photo_id_bytes_max = 256;

  // Upload worker: requests in flight at once, across all targets and operations.
  std::size_t requests_in_flight_max = 4;
  sim::TimeNs request_timeout_ns = sim::from_seconds(30);
  // Exponential backoff after a failed request: base * 2^failures, capped, then a seeded
  // "equal jitter" (a uniform draw in [delay/2, delay]). Retries of an acknowledged photo
  // never stop (giving up cannot make a photo safer); the cap bounds how late the first
  // attempt after an outage comes.
  sim::TimeNs backoff_base_ns = sim::from_milliseconds(100);
  sim::TimeNs backoff_max_ns = sim::from_seconds(30);

  // The protection mechanism: the verification read happens at least this long after the
  // PUT's 200. Must exceed the store's durability lag W for the promise to hold.
  sim::TimeNs settle_time_ns = sim::from_seconds(60);
  VerifyMethod verify_method = VerifyMethod::head;

  Policy policy = protected_policy();
};

// Why `settings` cannot run (no target, targets_required out of range, a non-positive
// timeout, ...), or nullopt. The Uploader constructor asserts this is nullopt; a driver that
// reads settings from a user checks it first and reports the error.
std::optional<std::string> settings_error(const Settings& settings);

// --- events ---------------------------------------------------------------------------

struct PhotoArrival {
  // Chosen by the client; the same id posted again is idempotent (same bytes: acknowledged
  // again; different bytes: refused with 409).
  std::string photo_id;
  std::string bytes;
  // The client's end-to-end checksum of bytes; the photo is refused (400) if it does not match.
  s3proto::ChecksumAlgorithm checksum_algorithm = s3proto::ChecksumAlgorithm::crc32c;
  std::string checksum_base64;
};

// --- actions --------------------------------------------------------------------------

// Tell the phone yes: the photo is durable (under every policy but ack-before-fsync).
struct AcknowledgePhoto {
  std::string photo_id;
  std::string object_key;
};

// Tell the phone no. 503 + retry_after_seconds: back-pressure or a local I/O failure, try
// again; 400: bad id or checksum; 409: the id exists with other bytes; 413: too large.
struct RefusePhoto {
  std::string photo_id;
  int http_status = 503;
  std::int64_t retry_after_seconds = 0;
  std::string reason;
};

// Call on_timer at (or after) at_ns. Replaces any earlier SetTimer.
struct SetTimer {
  sim::TimeNs at_ns = 0;
};

// The local copy of a photo was deleted because enough targets hold it.
struct PhotoEvicted {
  std::string photo_id;
  std::string object_key;
};

// Recovery found an acknowledged photo whose local copy is missing or damaged before any
// verified copy existed (only unsafe policies or a broken disk get here).
struct LocalCopyLost {
  std::string photo_id;
  std::string reason;
};

using Action = std::variant<AcknowledgePhoto, RefusePhoto, ObjectStoreRequest, SetTimer,
                            PhotoEvicted, LocalCopyLost>;
using Actions = std::vector<Action>;

// One line describing an action, stable across runs and machines (no pointers, no bodies:
// a PUT shows its size and MD5), for traces and logs.
std::string describe_action(const Action& action);

// --- the durable local view (for checkers, tools and tests) -----------------------------

// Journaled photo states. The derived states uploading / uploaded / verified live in the
// copies (CopyState) and in PhotoView::stage.
enum class PhotoState {
  received = 0,      // Journal row written; bytes not yet known durable; never acknowledged.
  acknowledged = 1,  // Bytes and row durable (protected), phone told yes; upload pending.
  evicted = 2,       // Enough verified copies; local bytes deleted.
  lost = 3,          // Recovery found the local copy missing or damaged.
};

enum class CopyState {
  pending = 0,   // No PUT known to have succeeded.
  uploaded = 1,  // A PUT got 200 at put_acked_ns; not yet read back.
  verified = 2,  // Read back (or, under a few unsafe policies, believed) as intact.
};

struct CopyView {
  CopyState state = CopyState::pending;
  sim::TimeNs put_acked_ns = 0;
  sim::TimeNs verified_ns = 0;
};

struct PhotoView {
  std::int64_t row_id = 0;
  std::string photo_id;
  std::string object_key;
  // The local content file's name under <data_directory>/content ("<boot>-<sequence>",
  // unique because the boot count is durable).
  std::string content_name;
  PhotoState state = PhotoState::received;
  std::uint64_t size_bytes = 0;
  std::string md5_hex;
  s3proto::ChecksumAlgorithm checksum_algorithm = s3proto::ChecksumAlgorithm::crc32c;
  std::string checksum_base64;
  std::vector<CopyView> copies;  // one per target, index = target index
};

std::string_view photo_state_name(PhotoState state);
std::string_view copy_state_name(CopyState state);

struct Metrics {
  std::uint64_t photos_acknowledged = 0;
  std::uint64_t photos_refused = 0;
  std::uint64_t photos_evicted = 0;
  std::uint64_t requests_sent = 0;
  std::uint64_t requests_failed = 0;
  std::uint64_t io_errors = 0;
  std::uint64_t cache_bytes = 0;
  std::uint64_t cache_photos = 0;
  std::uint64_t requests_in_flight = 0;
};

class Uploader {
 public:
  // Takes no action and does no I/O; call start() next. `file_system` must outlive this.
  Uploader(sim::FileSystem& file_system, Settings settings, sim::RandomStream random);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Opens the journal and recovers: drops never-acknowledged rows, checks every local copy
  // against its MD5, deletes temp files and leftovers of evictions, schedules re-verification
  // of copies in flight or verified-but-not-evicted, resumes uploads. If the local state cannot
  // be opened, ready() stays false and every photo is refused with 503; call start() again.
  Actions start(sim::TimeNs now);
  bool ready() const;

  // A phone posted a photo. Returns exactly one AcknowledgePhoto or RefusePhoto for it (plus
  // any requests and timer the new work needs).
  Actions on_photo(sim::TimeNs now, const PhotoArrival& photo);

  // Group commit: several photos posted at once. Returns exactly one AcknowledgePhoto or
  // RefusePhoto per photo (the same answer on_photo would give it), but the photos accepted
  // share one directory fsync and one journal transaction, so a batch of n costs n content
  // fsyncs plus one commit instead of n commits. Nothing is acknowledged before all of it is
  // durable. A photo id twice in the batch is handled after the batch, as a re-post.
  Actions on_photos(sim::TimeNs now, const std::vector<PhotoArrival>& photos);

  // The store answered. Unknown ids (late, duplicate, previous incarnation) are ignored.
  Actions on_response(sim::TimeNs now, const ObjectStoreResponse& response);

  // The timer came due (early or late calls are harmless). Times out overdue requests and
  // starts due work.
  Actions on_timer(sim::TimeNs now);

  // Writes now the copy records the journal holds staged (they are group-committed with the
  // next journal transaction, see docs/uploader.md). A clean stop calls it; a crash loses
  // them, which recovery tolerates by repeating those PUTs and reads. False on a disk error.
  bool flush_journal();

  // The journal's view, read from SQLite (not from memory), sorted by row id.
  std::vector<PhotoView> journal_view();
  // The photo's bytes as the local content file holds them now; nullopt if there is none.
  // After a crash, construct a new Uploader, start() it, then ask: this is local durable state.
  std::optional<std::string> read_local_copy(const std::string& photo_id);

  Metrics metrics() const;
  const Settings& settings() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace s3chaos::uploader
