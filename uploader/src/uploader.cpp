#include "uploader/uploader.hpp"

// GCC 12 reports false "maybe-uninitialized" warnings when a std::variant of structs with
// std::string members is moved into a vector (GCC bug 105562 and relatives); the code is
// fine under ASan/UBSan and with other compilers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <limits>
#include <set>
#include <system_error>
#include <tuple>
#include <unordered_map>

#include "journal.hpp"
#include "s3proto/checksum.hpp"
#include "sim/assert.hpp"

namespace s3chaos::uploader {
namespace {

// Backoff doubles at most this many times before the cap applies anyway (keeps the shift in
// range whatever the settings).
constexpr std::uint32_t backoff_doublings_max = 40;
// Requests per boot; the low 32 bits of a RequestId.
constexpr std::uint64_t request_sequence_max = std::numeric_limits<std::uint32_t>::max();
constexpr sim::TimeNs never_ns = std::numeric_limits<sim::TimeNs>::max();
// Longest a copy record waits in the journal's stage for a transaction to join (see
// State::journal_copy): a minute of uploads at most is repeated after a crash.
constexpr sim::TimeNs copy_record_delay_max_ns = 60 * sim::nanoseconds_per_second;

// The in-memory progress of one copy. Journaled: pending / uploaded / verified (CopyState);
// the in-flight phases are volatile, since after a crash every in-flight request is retried or
// re-verified anyway.
enum class CopyPhase { pending, put_in_flight, uploaded, verify_in_flight, verified };

struct Copy {
  CopyPhase phase = CopyPhase::pending;
  sim::TimeNs put_acked_ns = 0;
  sim::TimeNs verified_ns = 0;
  // True only for a copy confirmed by a read (HEAD, GET or, under trust-list, LIST); false for
  // a copy merely believed (timeout-as-success) or restored from the journal unverified.
  bool read_back = false;
  sim::TimeNs next_attempt_ns = 0;
  std::uint32_t failures = 0;
  // Verification reads in a row that found the object absent or not ours. Unlike `failures`,
  // a successful re-PUT does not reset it (only a successful verification does): against a
  // store whose reads lag its writes, PUT 200 / read 404 would otherwise repeat at the base
  // backoff forever (no-settle under stale reads sent 163,000 requests for 563 photos).
  std::uint32_t verify_misses = 0;
  RequestId request = 0;
  // The key under which the copy sits in State::due_copies, if it does.
  std::optional<sim::TimeNs> indexed_due_ns;
};

// A photo whose local copy is still in the cache (journal state acknowledged).
struct ActivePhoto {
  PhotoView view;
  std::vector<Copy> copies;
  sim::TimeNs evict_not_before_ns = 0;
  std::uint32_t evict_failures = 0;
  // The key under which the photo sits in State::due_evictions, if it does.
  std::optional<sim::TimeNs> indexed_evict_ns;
};

// What every photo ever acknowledged looks like, for idempotent re-posts.
struct KnownPhoto {
  std::int64_t row_id = 0;
  std::string content_name;
  std::string md5_hex;
  std::string object_key;
  PhotoState state = PhotoState::acknowledged;
};

// A target's health as the worker sees it: after a request fails in a way that says the store
// is unwell (transport error, 5xx, 429), no new request goes to that target before
// not_before_ns, which backs off like a copy does. Without this gate, every cached photo
// would retry on its own schedule during an outage and hammer the store (and the disk, which
// re-reads each photo for its PUT); with it, the worker probes the target at the backoff rate.
struct TargetHealth {
  std::uint32_t failures = 0;
  sim::TimeNs not_before_ns = 0;
};

struct InFlight {
  std::int64_t row_id = 0;
  std::size_t target = 0;
  ObjectStoreOp op = ObjectStoreOp::put;
  sim::TimeNs sent_ns = 0;
  sim::TimeNs deadline_ns = 0;
};

std::string join_path(const std::string& directory, const std::string& name) {
  return directory.empty() ? name : directory + "/" + name;
}

std::string_view strip_quotes(std::string_view etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

bool valid_photo_id(const std::string& photo_id, std::size_t bytes_max) {
  if (photo_id.empty() || photo_id.size() > bytes_max) return false;
  // Printable ASCII only: ids land in logs, reports and HTTP headers.
  return std::all_of(photo_id.begin(), photo_id.end(),
                     [](char c) { return c >= 0x20 && c < 0x7f; });
}

bool unknown_outcome(const ObjectStoreResponse& response) {
  if (response.outcome == ResponseOutcome::transport_error) {
    // A refused connection carried nothing; a reset or timeout may have carried everything.
    return response.transport_error != TransportError::connection_refused;
  }
  return response.outcome == ResponseOutcome::http_error && response.http_status >= 500;
}

}  // namespace

std::string_view photo_state_name(PhotoState state) {
  switch (state) {
    case PhotoState::received:
      return "received";
    case PhotoState::acknowledged:
      return "acknowledged";
    case PhotoState::evicted:
      return "evicted";
    case PhotoState::lost:
      return "lost";
  }
  return "?";
}

std::string_view copy_state_name(CopyState state) {
  switch (state) {
    case CopyState::pending:
      return "pending";
    case CopyState::uploaded:
      return "uploaded";
    case CopyState::verified:
      return "verified";
  }
  return "?";
}

std::string describe_action(const Action& action) {
  struct Describe {
    std::string operator()(const AcknowledgePhoto& a) const {
      return "ack " + a.photo_id + " key=" + a.object_key;
    }
    std::string operator()(const RefusePhoto& a) const {
      return "refuse " + a.photo_id + " status=" + std::to_string(a.http_status) +
             " retry_after_s=" + std::to_string(a.retry_after_seconds) + " reason=" + a.reason;
    }
    std::string operator()(const ObjectStoreRequest& a) const {
      std::string line = "request id=" + std::to_string(a.id) +
                         " target=" + std::to_string(a.target_index) + " " +
                         std::string(object_store_op_name(a.op)) + " " + a.bucket + "/" + a.key +
                         " timeout_ns=" + std::to_string(a.timeout_ns);
      if (a.op == ObjectStoreOp::put) {
        line += " bytes=" + std::to_string(a.body.size()) + " content_md5=" + a.content_md5;
      }
      return line;
    }
    std::string operator()(const SetTimer& a) const {
      return "timer at_ns=" + std::to_string(a.at_ns);
    }
    std::string operator()(const PhotoEvicted& a) const {
      return "evicted " + a.photo_id + " key=" + a.object_key;
    }
    std::string operator()(const LocalCopyLost& a) const {
      return "local-copy-lost " + a.photo_id + " reason=" + a.reason;
    }
  };
  return std::visit(Describe{}, action);
}

std::optional<std::string> settings_error(const Settings& settings) {
  if (settings.targets.empty()) return "at least one target is required";
  if (settings.targets_required < 1 || settings.targets_required > settings.targets.size()) {
    return "targets_required must be between 1 and the number of targets";
  }
  for (const auto& target : settings.targets) {
    if (target.bucket.empty()) return "every target needs a bucket";
  }
  if (settings.requests_in_flight_max < 1) return "requests_in_flight_max must be at least 1";
  if (settings.request_timeout_ns <= 0) return "request_timeout_ns must be positive";
  if (settings.backoff_base_ns <= 0 || settings.backoff_max_ns < settings.backoff_base_ns) {
    return "backoff_base_ns must be positive and at most backoff_max_ns";
  }
  if (settings.settle_time_ns < 0) return "settle_time_ns must not be negative";
  if (settings.retry_after_seconds < 1) return "retry_after_seconds must be at least 1";
  if (settings.photo_id_bytes_max < 1) return "photo_id_bytes_max must be at least 1";
  return std::nullopt;
}

struct Uploader::State {
  State(sim::FileSystem& fs, Settings s, sim::RandomStream r)
      : file_system(fs), settings(std::move(s)), random(r) {}

  sim::FileSystem& file_system;
  Settings settings;
  sim::RandomStream random;
  Journal journal;
  bool ready = false;
  std::uint32_t boot = 0;
  std::uint64_t request_sequence = 0;
  // Names content files uniquely within a boot ("<boot>-<sequence>").
  std::uint64_t content_sequence = 0;
  // Counter-keys only: the volatile counter the unsafe policy derives keys from.
  std::int64_t key_counter = 0;

  std::map<std::int64_t, ActivePhoto> active;
  // Hashed, not ordered: looked up by photo id on every ingest and eviction, never iterated.
  std::unordered_map<std::string, KnownPhoto> known;
  std::map<RequestId, InFlight> in_flight;
  std::vector<TargetHealth> target_health;
  // Indexes, so that an event costs O(log n) in the number of cached photos (an eight-hour
  // outage caches tens of thousands): copies with work due (a PUT or a verification read) by
  // due time, photos with enough safe copies by earliest eviction time, requests by deadline.
  std::set<std::tuple<sim::TimeNs, std::int64_t, std::size_t>> due_copies;
  std::set<std::pair<sim::TimeNs, std::int64_t>> due_evictions;
  std::set<std::pair<sim::TimeNs, RequestId>> deadlines;
  // When the oldest copy record still staged in the journal was staged (see journal_copy).
  std::optional<sim::TimeNs> staged_since_ns;
  std::optional<sim::TimeNs> timer_at_ns;
  Metrics metrics;

  std::string content_directory() const { return join_path(settings.data_directory, "content"); }
  std::string temp_directory() const { return join_path(settings.data_directory, "tmp"); }
  std::string content_path(const std::string& content_name) const {
    return join_path(content_directory(), content_name);
  }
  std::string temp_path(const std::string& content_name) const {
    return join_path(temp_directory(), content_name + ".tmp");
  }
  std::string journal_path() const {
    return settings.journal_path.empty() ? join_path(settings.data_directory, "journal.sqlite")
                                         : settings.journal_path;
  }

  std::size_t copies_required() const {
    return settings.policy.evict_after_one_target ? 1 : settings.targets_required;
  }

  // Whether a copy counts towards eviction under the policy.
  bool copy_is_safe(const Copy& copy) const {
    if (copy.phase == CopyPhase::verified) return true;
    // naive-2008: a 200 is enough.
    return !settings.policy.verify_before_evict &&
           (copy.phase == CopyPhase::uploaded || copy.phase == CopyPhase::verify_in_flight);
  }

  std::size_t safe_copies(const ActivePhoto& photo) const {
    return static_cast<std::size_t>(std::count_if(photo.copies.begin(), photo.copies.end(),
                                                  [&](const Copy& c) { return copy_is_safe(c); }));
  }

  sim::TimeNs settle_ns() const {
    return settings.policy.settle_before_verify ? settings.settle_time_ns : 0;
  }

  RequestId next_request_id() {
    S3CHAOS_ASSERT(request_sequence < request_sequence_max);
    ++request_sequence;
    return (static_cast<std::uint64_t>(boot) << 32) | request_sequence;
  }

  // base * 2^(failures-1), capped at backoff_max_ns, then an "equal jitter" draw in
  // [delay/2, delay] from the seeded stream.
  sim::TimeNs backoff_ns(std::uint32_t failures) {
    S3CHAOS_ASSERT(failures >= 1);
    const std::uint32_t doublings = std::min(failures - 1, backoff_doublings_max);
    sim::TimeNs delay = settings.backoff_base_ns;
    for (std::uint32_t i = 0; i < doublings && delay < settings.backoff_max_ns; ++i) {
      delay = std::min(delay * 2, settings.backoff_max_ns);
    }
    const sim::TimeNs half = delay / 2;
    const auto jitter =
        static_cast<sim::TimeNs>(random.below(static_cast<std::uint64_t>(delay - half) + 1));
    const sim::TimeNs result = std::max<sim::TimeNs>(1, half + jitter);
    S3CHAOS_ASSERT(result >= 1 && result >= settings.backoff_base_ns / 2 &&
                   result <= settings.backoff_max_ns);
    return result;
  }

  void note_io_error() { ++metrics.io_errors; }

  // --- content files -------------------------------------------------------------------

  // write temp, fsync it, rename into content/, fsync content/ (unless no-dir-fsync).
  std::error_code write_content(const std::string& content_name, const std::string& bytes,
                                bool sync_directory_now = true) {
    const std::string temp = temp_path(content_name);
    if (auto error = file_system.create_file(temp)) return error;
    if (auto error = file_system.truncate(temp, 0)) return error;
    if (auto error = file_system.write_at(temp, 0, bytes)) return error;
    if (auto error = file_system.sync_file(temp)) return error;
    if (auto error = file_system.rename(temp, content_path(content_name))) return error;
    if (settings.policy.sync_content_directory && sync_directory_now) {
      if (auto error = file_system.sync_directory(content_directory())) return error;
    }
    return {};
  }

  std::error_code read_content(const std::string& content_name, std::string& bytes) {
    const std::string path = content_path(content_name);
    std::uint64_t size = 0;
    if (auto error = file_system.file_size(path, size)) return error;
    bytes.clear();
    return file_system.read_at(path, 0, size, bytes);
  }

  // Best-effort removal of a file and the durability of its removal; recovery finishes what a
  // failure leaves behind.
  void remove_file_durably(const std::string& path, const std::string& directory) {
    if (!file_system.exists(path)) return;
    if (file_system.remove(path) || file_system.sync_directory(directory)) note_io_error();
  }

  // --- recovery --------------------------------------------------------------------------

  bool prepare_directories() {
    for (const std::string& directory : {content_directory(), temp_directory()}) {
      if (file_system.make_directory(directory)) return false;
    }
    // Make the directories themselves durable: sync the root and every ancestor.
    std::string prefix;
    if (file_system.sync_directory("")) return false;
    const std::string& data = settings.data_directory;
    std::size_t start = 0;
    while (start < data.size()) {
      const std::size_t slash = data.find('/', start);
      prefix = data.substr(0, slash == std::string::npos ? data.size() : slash);
      if (file_system.sync_directory(prefix)) return false;
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    return true;
  }

  bool recover(sim::TimeNs now, Actions& actions) {
    if (!prepare_directories()) return false;
    if (!journal.is_open()) {
      std::string error;
      if (!journal.open(journal_path(), settings.sqlite_vfs_name, settings.sqlite_journal_mode,
                        error)) {
        return false;
      }
    }
    const auto boot_number = journal.next_boot();
    if (!boot_number.has_value()) return false;
    boot = *boot_number;
    const auto rows = journal.load();
    if (!rows.has_value()) return false;

    active.clear();
    known.clear();
    in_flight.clear();
    due_copies.clear();
    due_evictions.clear();
    deadlines.clear();
    target_health.assign(settings.targets.size(), TargetHealth{});
    metrics.cache_bytes = 0;
    metrics.cache_photos = 0;
    key_counter = 0;

    std::set<std::string> keep_content;
    for (const PhotoView& row : *rows) {
      if (row.state == PhotoState::received) {
        // Never acknowledged (protected acknowledges only after the row says acknowledged):
        // drop it; the phone was refused or never answered and will post again.
        // (Only journals of older versions, which inserted the row before the bytes, have
        // such rows; the content file, if any, is removed below as an orphan.)
        if (!journal.delete_photo(row.row_id)) return false;
        continue;
      }
      known[row.photo_id] =
          KnownPhoto{row.row_id, row.content_name, row.md5_hex, row.object_key, row.state};
      if (row.state != PhotoState::acknowledged) continue;

      std::string bytes;
      const bool intact = !row.content_name.empty() && !read_content(row.content_name, bytes) &&
                          bytes.size() == row.size_bytes && s3proto::md5_hex(bytes) == row.md5_hex;
      if (!intact) {
        if (!journal.set_state(row.row_id, PhotoState::lost)) return false;
        known[row.photo_id].state = PhotoState::lost;
        actions.push_back(LocalCopyLost{
            row.photo_id, "local copy missing or damaged at recovery, no verified copy known"});
        continue;
      }
      keep_content.insert(row.content_name);
      ActivePhoto photo;
      photo.view = row;
      photo.copies.resize(settings.targets.size());
      for (std::size_t target = 0; target < photo.copies.size(); ++target) {
        Copy& copy = photo.copies[target];
        const CopyView journaled = target < row.copies.size() ? row.copies[target] : CopyView{};
        // A clock that went backwards across the restart must not push verification into
        // the far future; measuring the settle time from now instead is only more careful.
        copy.put_acked_ns = std::min(journaled.put_acked_ns, now);
        copy.verified_ns = journaled.verified_ns;
        switch (journaled.state) {
          case CopyState::pending:
            copy.phase = CopyPhase::pending;
            break;
          case CopyState::uploaded:
            copy.phase = CopyPhase::uploaded;
            break;
          case CopyState::verified:
            // The copy was verified but the photo not evicted yet: read it back again before
            // trusting it (the crash may have come between the two).
            copy.phase =
                settings.policy.reverify_on_recovery ? CopyPhase::uploaded : CopyPhase::verified;
            copy.read_back = !settings.policy.reverify_on_recovery;
            break;
        }
      }
      metrics.cache_bytes += row.size_bytes;
      metrics.cache_photos += 1;
      ActivePhoto& placed = active.emplace(row.row_id, std::move(photo)).first->second;
      reindex(placed);
    }

    // Temp files belong to ingests that never completed.
    std::vector<std::string> names;
    if (file_system.list_directory(temp_directory(), names)) return false;
    for (const std::string& name : names) {
      if (file_system.remove(join_path(temp_directory(), name))) return false;
    }
    if (!names.empty() && file_system.sync_directory(temp_directory())) return false;
    // Content files of evicted photos (a crash between the journal's evicted and the unlink),
    // and of rows rolled back.
    names.clear();
    if (file_system.list_directory(content_directory(), names)) return false;
    bool removed_any = false;
    for (const std::string& name : names) {
      if (keep_content.count(name) != 0) continue;
      if (file_system.remove(join_path(content_directory(), name))) return false;
      removed_any = true;
    }
    if (removed_any && file_system.sync_directory(content_directory())) return false;
    return true;
  }

  // --- the upload worker ---------------------------------------------------------------

  void fail_copy(Copy& copy, sim::TimeNs now, CopyPhase back_to) {
    ++metrics.requests_failed;
    copy.phase = back_to;
    copy.failures = std::min(copy.failures + 1, backoff_doublings_max + 1);
    copy.next_attempt_ns = now + backoff_ns(copy.failures);
  }

  static CopyView copy_view(const Copy& copy) {
    CopyView view;
    switch (copy.phase) {
      case CopyPhase::pending:
      case CopyPhase::put_in_flight:
        view.state = CopyState::pending;
        break;
      case CopyPhase::uploaded:
      case CopyPhase::verify_in_flight:
        view.state = CopyState::uploaded;
        break;
      case CopyPhase::verified:
        view.state = CopyState::verified;
        break;
    }
    view.put_acked_ns = copy.put_acked_ns;
    view.verified_ns = copy.verified_ns;
    return view;
  }

  // A copy's new state is staged, not committed at once: it is written with the next journal
  // transaction (nearly always the next ingest, or the eviction a verification permits), or
  // alone once it has waited copy_record_delay_max_ns. Group commit: a PUT's 200 would
  // otherwise cost a durable transaction of its own, a third of every photo's journal writes.
  // Losing a staged record to a crash is safe: recovery PUTs a copy the journal shows pending
  // again (same key, same bytes) and its settle time restarts from that PUT's 200, and it
  // reads back copies shown uploaded or verified before it evicts. The cost of a crash is at
  // most copy_record_delay_max_ns of repeated PUTs and reads.
  void journal_copy(sim::TimeNs now, const ActivePhoto& photo, std::size_t target,
                    const Copy& copy) {
    if (!journal.has_staged()) staged_since_ns = now;
    journal.stage_copy(photo.view.row_id, target, copy_view(copy));
  }

  // Writes the staged records alone once the oldest has waited long enough.
  void flush_overdue_records(sim::TimeNs now) {
    if (!journal.has_staged()) {
      staged_since_ns.reset();
      return;
    }
    if (staged_since_ns && now < *staged_since_ns + copy_record_delay_max_ns) return;
    if (journal.flush_staged()) {
      staged_since_ns.reset();
    } else {
      // The records stay staged; try again a full delay later, not at once (a failing disk
      // would otherwise wake the uploader again and again at the same instant).
      note_io_error();
      staged_since_ns = now;
    }
  }

  void mark_lost(std::int64_t row_id, const std::string& reason, Actions& actions) {
    auto it = active.find(row_id);
    S3CHAOS_ASSERT(it != active.end());
    if (!journal.set_state(row_id, PhotoState::lost)) note_io_error();
    known[it->second.view.photo_id].state = PhotoState::lost;
    metrics.cache_bytes -= it->second.view.size_bytes;
    metrics.cache_photos -= 1;
    actions.push_back(LocalCopyLost{it->second.view.photo_id, reason});
    unindex(it->second);
    active.erase(it);
  }

  // Returns false if the photo is gone (marked lost).
  bool send_put(sim::TimeNs now, ActivePhoto& photo, std::size_t target, Actions& actions) {
    Copy& copy = photo.copies[target];
    std::string body;
    if (read_content(photo.view.content_name, body)) {
      note_io_error();
      fail_copy(copy, now, CopyPhase::pending);
      reindex(photo);
      return true;
    }
    // One MD5 of the body serves both the integrity check and the Content-MD5 header.
    const auto digest = s3proto::md5(body);
    const std::string_view digest_bytes(reinterpret_cast<const char*>(digest.data()),
                                        digest.size());
    if (body.size() != photo.view.size_bytes ||
        s3proto::hex_encode(digest_bytes) != photo.view.md5_hex) {
      mark_lost(photo.view.row_id, "local copy damaged before upload", actions);
      return false;
    }
    ObjectStoreRequest request;
    request.id = next_request_id();
    request.target_index = target;
    request.op = ObjectStoreOp::put;
    request.bucket = settings.targets[target].bucket;
    request.key = photo.view.object_key;
    request.content_md5 = s3proto::base64_encode(digest_bytes);
    request.checksum_algorithm = photo.view.checksum_algorithm;
    request.checksum_base64 = photo.view.checksum_base64;
    request.body = std::move(body);
    request.timeout_ns = settings.request_timeout_ns;
    launch(now, photo, target, request, actions);
    copy.phase = CopyPhase::put_in_flight;
    reindex(photo);
    return true;
  }

  void send_verify(sim::TimeNs now, ActivePhoto& photo, std::size_t target, Actions& actions) {
    Copy& copy = photo.copies[target];
    S3CHAOS_ASSERT(copy.phase == CopyPhase::uploaded);
    S3CHAOS_ASSERT(now >= copy.put_acked_ns + settle_ns());
    ObjectStoreRequest request;
    request.id = next_request_id();
    request.target_index = target;
    if (settings.policy.verify_by_list) {
      request.op = ObjectStoreOp::list;
    } else {
      request.op =
          settings.verify_method == VerifyMethod::head ? ObjectStoreOp::head : ObjectStoreOp::get;
    }
    request.bucket = settings.targets[target].bucket;
    request.key = photo.view.object_key;
    request.timeout_ns = settings.request_timeout_ns;
    launch(now, photo, target, request, actions);
    copy.phase = CopyPhase::verify_in_flight;
    reindex(photo);
  }

  void launch(sim::TimeNs now, ActivePhoto& photo, std::size_t target,
              const ObjectStoreRequest& request, Actions& actions) {
    S3CHAOS_ASSERT(in_flight.size() < settings.requests_in_flight_max);
    deadlines.emplace(now + request.timeout_ns, request.id);
    in_flight.emplace(
        request.id, InFlight{photo.view.row_id, target, request.op, now, now + request.timeout_ns});
    photo.copies[target].request = request.id;
    ++metrics.requests_sent;
    actions.push_back(request);
  }

  void on_put_response(sim::TimeNs now, ActivePhoto& photo, std::size_t target,
                       const ObjectStoreResponse& response) {
    Copy& copy = photo.copies[target];
    const bool stored =
        response.outcome == ResponseOutcome::ok &&
        (response.etag.empty() || strip_quotes(response.etag) == photo.view.md5_hex);
    if (stored) {
      copy.phase = CopyPhase::uploaded;
      copy.put_acked_ns = now;
      copy.read_back = false;
      copy.failures = 0;
      copy.next_attempt_ns = now;
      journal_copy(now, photo, target, copy);
    } else if (settings.policy.unknown_put_outcome_is_success && unknown_outcome(response)) {
      // timeout-as-success: the unsafe belief that the PUT went through.
      copy.phase = CopyPhase::verified;
      copy.put_acked_ns = now;
      copy.verified_ns = now;
      copy.read_back = false;
      journal_copy(now, photo, target, copy);
    } else {
      // An unknown outcome (timeout, reset, 5xx) is retried: the PUT is idempotent (same key,
      // same bytes), so a retry is safe whether or not the first one landed.
      fail_copy(copy, now, CopyPhase::pending);
    }
  }

  void on_verify_response(sim::TimeNs now, ActivePhoto& photo, std::size_t target,
                          const InFlight& request, const ObjectStoreResponse& response) {
    Copy& copy = photo.copies[target];
    const PhotoView& view = photo.view;
    bool intact = false;
    bool answered = response.outcome == ResponseOutcome::ok;
    if (answered) {
      switch (request.op) {
        case ObjectStoreOp::head:
          intact =
              strip_quotes(response.etag) == view.md5_hex && response.size_bytes == view.size_bytes;
          break;
        case ObjectStoreOp::get:
          intact = response.body.size() == view.size_bytes &&
                   s3proto::checksum_base64(view.checksum_algorithm, response.body) ==
                       view.checksum_base64 &&
                   s3proto::md5_hex(response.body) == view.md5_hex;
          break;
        case ObjectStoreOp::list:
          intact = std::find(response.listed_keys.begin(), response.listed_keys.end(),
                             view.object_key) != response.listed_keys.end();
          break;
        default:
          S3CHAOS_ASSERT(false);
      }
    }
    const bool missing =
        response.outcome == ResponseOutcome::http_error && response.http_status == 404;
    if (intact) {
      // Pair assertion: verified only after a read-back that began at least the settle time
      // after the PUT's 200.
      S3CHAOS_ASSERT(request.sent_ns >= copy.put_acked_ns + settle_ns());
      copy.phase = CopyPhase::verified;
      copy.verified_ns = now;
      copy.read_back = true;
      copy.failures = 0;
      copy.verify_misses = 0;
      journal_copy(now, photo, target, copy);
    } else if (answered || missing) {
      // The store answered and the object is absent or not ours: upload again, after a backoff
      // that grows with every miss in a row (the seeded jitter, as for every retry).
      copy.verify_misses = std::min(copy.verify_misses + 1, backoff_doublings_max + 1);
      copy.failures = std::max(copy.failures, copy.verify_misses - 1);
      fail_copy(copy, now, CopyPhase::pending);
      S3CHAOS_ASSERT(copy.failures >= copy.verify_misses);
      journal_copy(now, photo, target, copy);
    } else {
      // The read itself failed: the object's fate is still unknown; read again later.
      fail_copy(copy, now, CopyPhase::uploaded);
    }
  }

  void handle_response(sim::TimeNs now, const ObjectStoreResponse& response) {
    auto it = in_flight.find(response.id);
    if (it == in_flight.end()) return;
    const InFlight request = it->second;
    in_flight.erase(it);
    deadlines.erase({request.deadline_ns, response.id});
    note_target_health(now, request.target, response);
    auto photo = active.find(request.row_id);
    if (photo == active.end()) return;  // Evicted or lost meanwhile.
    Copy& copy = photo->second.copies[request.target];
    S3CHAOS_ASSERT(copy.request == response.id);
    if (request.op == ObjectStoreOp::put) {
      S3CHAOS_ASSERT(copy.phase == CopyPhase::put_in_flight);
      on_put_response(now, photo->second, request.target, response);
    } else {
      S3CHAOS_ASSERT(copy.phase == CopyPhase::verify_in_flight);
      on_verify_response(now, photo->second, request.target, request, response);
    }
    reindex(photo->second);
  }

  void evict(sim::TimeNs now, ActivePhoto& photo, Actions& actions) {
    // Pair assertion: evict only with enough safe copies, and under every policy that claims
    // to verify, only copies that were read back.
    S3CHAOS_ASSERT(safe_copies(photo) >= copies_required());
    const bool claims_verification =
        settings.policy.verify_before_evict && !settings.policy.unknown_put_outcome_is_success;
    if (claims_verification) {
      std::size_t read_back = 0;
      for (const Copy& copy : photo.copies) {
        if (copy.phase == CopyPhase::verified && copy.read_back) ++read_back;
      }
      S3CHAOS_ASSERT(read_back >= copies_required());
    }
    // Journal first, then unlink: a crash in between leaves a file recovery removes, never a
    // journal that points at nothing. The staged records, the verifications that permit this
    // eviction among them, commit with it.
    if (!journal.set_state(photo.view.row_id, PhotoState::evicted)) {
      note_io_error();
      photo.evict_failures = std::min(photo.evict_failures + 1, backoff_doublings_max + 1);
      photo.evict_not_before_ns = now + backoff_ns(photo.evict_failures);
      reindex(photo);
      return;
    }
    remove_file_durably(content_path(photo.view.content_name), content_directory());
    known[photo.view.photo_id].state = PhotoState::evicted;
    metrics.cache_bytes -= photo.view.size_bytes;
    metrics.cache_photos -= 1;
    ++metrics.photos_evicted;
    actions.push_back(PhotoEvicted{photo.view.photo_id, photo.view.object_key});
    unindex(photo);
    active.erase(photo.view.row_id);
  }

  sim::TimeNs verify_due_ns(const Copy& copy) const {
    return std::max(copy.next_attempt_ns, copy.put_acked_ns + settle_ns());
  }

  // When the copy next needs work from the worker, if it does.
  std::optional<sim::TimeNs> copy_due_ns(const Copy& copy) const {
    if (copy.phase == CopyPhase::pending) return copy.next_attempt_ns;
    if (copy.phase == CopyPhase::uploaded && settings.policy.verify_before_evict) {
      return verify_due_ns(copy);
    }
    return std::nullopt;
  }

  // Brings the indexes in line with the photo's copies; call after any change to them.
  void reindex(ActivePhoto& photo) {
    const std::int64_t row_id = photo.view.row_id;
    const bool evictable = safe_copies(photo) >= copies_required();
    for (std::size_t target = 0; target < photo.copies.size(); ++target) {
      Copy& copy = photo.copies[target];
      // A photo about to be evicted needs no more work on its remaining copies.
      const auto due = evictable ? std::nullopt : copy_due_ns(copy);
      if (copy.indexed_due_ns == due) continue;
      if (copy.indexed_due_ns.has_value()) due_copies.erase({*copy.indexed_due_ns, row_id, target});
      if (due.has_value()) due_copies.emplace(*due, row_id, target);
      copy.indexed_due_ns = due;
    }
    const auto evict_at = evictable ? std::optional(photo.evict_not_before_ns) : std::nullopt;
    if (photo.indexed_evict_ns != evict_at) {
      if (photo.indexed_evict_ns.has_value())
        due_evictions.erase({*photo.indexed_evict_ns, row_id});
      if (evict_at.has_value()) due_evictions.emplace(*evict_at, row_id);
      photo.indexed_evict_ns = evict_at;
    }
  }

  void unindex(ActivePhoto& photo) {
    for (std::size_t target = 0; target < photo.copies.size(); ++target) {
      Copy& copy = photo.copies[target];
      if (copy.indexed_due_ns.has_value()) {
        due_copies.erase({*copy.indexed_due_ns, photo.view.row_id, target});
      }
      copy.indexed_due_ns.reset();
    }
    if (photo.indexed_evict_ns.has_value()) {
      due_evictions.erase({*photo.indexed_evict_ns, photo.view.row_id});
    }
    photo.indexed_evict_ns.reset();
  }

  void note_target_health(sim::TimeNs now, std::size_t target,
                          const ObjectStoreResponse& response) {
    TargetHealth& health = target_health.at(target);
    const bool unwell = response.outcome == ResponseOutcome::transport_error ||
                        (response.outcome == ResponseOutcome::http_error &&
                         (response.http_status >= 500 || response.http_status == 429));
    if (!unwell) {
      health = TargetHealth{};
      return;
    }
    health.failures = std::min(health.failures + 1, backoff_doublings_max + 1);
    health.not_before_ns = std::max(health.not_before_ns, now + backoff_ns(health.failures));
  }

  // The earliest time any target's backoff gate lets a request through.
  sim::TimeNs earliest_gate_ns() const {
    sim::TimeNs earliest = never_ns;
    for (const TargetHealth& health : target_health)
      earliest = std::min(earliest, health.not_before_ns);
    return earliest;
  }

  // Times out overdue requests, evicts what may be evicted, starts due work, re-arms the timer.
  void pump(sim::TimeNs now, Actions& actions) {
    while (!deadlines.empty() && deadlines.begin()->first <= now) {
      const RequestId id = deadlines.begin()->second;
      handle_response(now, ObjectStoreResponse::transport(id, TransportError::timeout));
    }
    while (!due_evictions.empty() && due_evictions.begin()->first <= now) {
      evict(now, active.at(due_evictions.begin()->second), actions);
    }
    while (in_flight.size() < settings.requests_in_flight_max && !due_copies.empty()) {
      const auto [due_ns, row_id, target] = *due_copies.begin();
      if (due_ns > now) break;
      ActivePhoto& photo = active.at(row_id);
      // Each branch takes the copy off the due index or moves it into the future.
      const sim::TimeNs gate_ns = target_health.at(target).not_before_ns;
      if (gate_ns > now) {
        // With every target gated nothing can start before the earliest gate opens; stop here
        // rather than re-index every cached copy on each wake-up of a long outage.
        if (earliest_gate_ns() > now) break;
        photo.copies[target].next_attempt_ns = gate_ns;
        reindex(photo);
      } else if (photo.copies[target].phase == CopyPhase::pending) {
        send_put(now, photo, target, actions);
      } else {
        send_verify(now, photo, target, actions);
      }
    }
    flush_overdue_records(now);
    arm_timer(actions);
  }

  void arm_timer(Actions& actions) {
    sim::TimeNs next = never_ns;
    if (!deadlines.empty()) next = std::min(next, deadlines.begin()->first);
    if (!due_evictions.empty()) next = std::min(next, due_evictions.begin()->first);
    // At capacity, the next response or deadline frees a slot; no need to wake for due work.
    if (in_flight.size() < settings.requests_in_flight_max && !due_copies.empty()) {
      next = std::min(next, std::max(std::get<0>(*due_copies.begin()), earliest_gate_ns()));
    }
    if (staged_since_ns && journal.has_staged())
      next = std::min(next, *staged_since_ns + copy_record_delay_max_ns);
    if (next == never_ns) return;
    if (timer_at_ns.has_value() && *timer_at_ns == next) return;
    timer_at_ns = next;
    actions.push_back(SetTimer{next});
  }

  // --- ingest --------------------------------------------------------------------------

  void refuse(Actions& actions, const std::string& photo_id, int status, std::string reason) {
    ++metrics.photos_refused;
    const std::int64_t retry_after = status == 503 ? settings.retry_after_seconds : 0;
    actions.push_back(RefusePhoto{photo_id, status, retry_after, std::move(reason)});
  }

  void acknowledge(Actions& actions, const std::string& photo_id, const std::string& key) {
    ++metrics.photos_acknowledged;
    actions.push_back(AcknowledgePhoto{photo_id, key});
  }

  void ingest(sim::TimeNs now, const PhotoArrival& arrival, Actions& actions) {
    if (!ready) return refuse(actions, arrival.photo_id, 503, "uploader not ready");
    if (!valid_photo_id(arrival.photo_id, settings.photo_id_bytes_max)) {
      return refuse(actions, arrival.photo_id, 400,
                    "photo id must be 1 to " + std::to_string(settings.photo_id_bytes_max) +
                        " printable ASCII bytes");
    }
    if (arrival.bytes.size() > settings.photo_bytes_max) {
      return refuse(actions, arrival.photo_id, 413, "photo larger than photo_bytes_max");
    }
    if (s3proto::checksum_base64(arrival.checksum_algorithm, arrival.bytes) !=
        arrival.checksum_base64) {
      return refuse(actions, arrival.photo_id, 400, "bytes do not match the client's checksum");
    }
    const std::string md5 = s3proto::md5_hex(arrival.bytes);
    if (auto it = known.find(arrival.photo_id); it != known.end()) {
      if (it->second.md5_hex != md5) {
        return refuse(actions, arrival.photo_id, 409, "photo id already used for other bytes");
      }
      if (it->second.state == PhotoState::lost) {
        return refuse(actions, arrival.photo_id, 409, "photo id lost locally; post a new id");
      }
      // The same photo again (a retry after a lost answer): already safe, say yes again.
      return acknowledge(actions, arrival.photo_id, it->second.object_key);
    }
    if (metrics.cache_bytes + arrival.bytes.size() > settings.cache_bytes_max ||
        metrics.cache_photos + 1 > settings.cache_photos_max) {
      return refuse(actions, arrival.photo_id, 503, "local cache full; retry later");
    }

    const bool acked_early = !settings.policy.ack_after_durable;
    std::string object_key;
    if (acked_early) {
      // ack-before-fsync: the unsafe early answer. The key is not known yet.
      acknowledge(actions, arrival.photo_id, std::string());
    }
    PhotoView view;
    view.photo_id = arrival.photo_id;
    view.size_bytes = arrival.bytes.size();
    view.md5_hex = md5;
    view.checksum_algorithm = arrival.checksum_algorithm;
    view.checksum_base64 = arrival.checksum_base64;
    auto fail = [&](const char* reason) {
      note_io_error();
      if (!acked_early) return refuse(actions, arrival.photo_id, 503, reason);
      // ack-before-fsync already said yes: the photo is lost, and the trace should say where.
      actions.push_back(
          LocalCopyLost{arrival.photo_id, std::string("acknowledged early, then: ") + reason});
    };
    // The bytes first, durably, under a name unique across boots; then one journal
    // transaction that records the photo as acknowledged (its commit is the durability point).
    // A crash before the commit leaves an orphan content file that recovery removes.
    view.content_name = std::to_string(boot) + "-" + std::to_string(++content_sequence);
    if (write_content(view.content_name, arrival.bytes)) {
      if (file_system.exists(temp_path(view.content_name))) {
        (void)file_system.remove(temp_path(view.content_name));
      }
      if (file_system.exists(content_path(view.content_name))) {
        (void)file_system.remove(content_path(view.content_name));
      }
      return fail("storing the photo failed; retry later");
    }
    std::optional<std::string> fixed_key;
    if (!settings.policy.durable_keys) {
      fixed_key = durable_object_key(settings.key_prefix, ++key_counter);
    }
    view.state = PhotoState::acknowledged;
    const auto row_id = journal.insert_photo(view, settings.targets.size(), settings.key_prefix,
                                             fixed_key, object_key);
    if (!row_id.has_value()) {
      // SQLite rolled the transaction back: the bytes belong to no row.
      (void)file_system.remove(content_path(view.content_name));
      return fail("journal write failed; retry later");
    }
    view.row_id = *row_id;
    view.object_key = object_key;
    view.state = PhotoState::acknowledged;
    ActivePhoto photo;
    photo.view = view;
    photo.copies.resize(settings.targets.size());
    for (Copy& copy : photo.copies) copy.next_attempt_ns = now;
    known[arrival.photo_id] =
        KnownPhoto{*row_id, view.content_name, md5, object_key, PhotoState::acknowledged};
    reindex(active.emplace(*row_id, std::move(photo)).first->second);
    metrics.cache_bytes += view.size_bytes;
    metrics.cache_photos += 1;
    if (!acked_early) acknowledge(actions, arrival.photo_id, object_key);
  }

  void ingest_batch(sim::TimeNs now, const std::vector<PhotoArrival>& arrivals, Actions& actions);
};

// Group commit: the photos' content files are written and fsynced one by one, their renames
// made durable by ONE directory fsync, and their rows inserted in ONE journal transaction;
// then all are acknowledged. Durability before acknowledgement holds exactly as in
// ingest(): no photo is acknowledged before its bytes, its name and its row are durable.
// A failure of the shared steps refuses the whole batch (503) and removes its files.
void Uploader::State::ingest_batch(sim::TimeNs now, const std::vector<PhotoArrival>& arrivals,
                                   Actions& actions) {
  // ack-before-fsync's early answer belongs to the one-by-one path; so does a lone photo.
  if (!ready || !settings.policy.ack_after_durable || arrivals.size() < 2) {
    for (const PhotoArrival& arrival : arrivals) ingest(now, arrival, actions);
    return;
  }
  struct Staged {
    const PhotoArrival* arrival = nullptr;
    PhotoView view;
  };
  std::vector<Staged> staged;
  std::vector<std::optional<std::string>> fixed_keys;
  std::set<std::string> ids_in_batch;
  std::vector<const PhotoArrival*> later;  // an id twice in the batch: after the commit
  std::uint64_t batch_bytes = 0;
  for (const PhotoArrival& arrival : arrivals) {
    if (!ids_in_batch.insert(arrival.photo_id).second) {
      later.push_back(&arrival);
      continue;
    }
    if (!valid_photo_id(arrival.photo_id, settings.photo_id_bytes_max)) {
      refuse(actions, arrival.photo_id, 400,
             "photo id must be 1 to " + std::to_string(settings.photo_id_bytes_max) +
                 " printable ASCII bytes");
      continue;
    }
    if (arrival.bytes.size() > settings.photo_bytes_max) {
      refuse(actions, arrival.photo_id, 413, "photo larger than photo_bytes_max");
      continue;
    }
    if (s3proto::checksum_base64(arrival.checksum_algorithm, arrival.bytes) !=
        arrival.checksum_base64) {
      refuse(actions, arrival.photo_id, 400, "bytes do not match the client's checksum");
      continue;
    }
    const std::string md5 = s3proto::md5_hex(arrival.bytes);
    if (auto it = known.find(arrival.photo_id); it != known.end()) {
      if (it->second.md5_hex != md5) {
        refuse(actions, arrival.photo_id, 409, "photo id already used for other bytes");
      } else if (it->second.state == PhotoState::lost) {
        refuse(actions, arrival.photo_id, 409, "photo id lost locally; post a new id");
      } else {
        acknowledge(actions, arrival.photo_id, it->second.object_key);
      }
      continue;
    }
    if (metrics.cache_bytes + batch_bytes + arrival.bytes.size() > settings.cache_bytes_max ||
        metrics.cache_photos + staged.size() + 1 > settings.cache_photos_max) {
      refuse(actions, arrival.photo_id, 503, "local cache full; retry later");
      continue;
    }
    Staged next;
    next.arrival = &arrival;
    next.view.photo_id = arrival.photo_id;
    next.view.size_bytes = arrival.bytes.size();
    next.view.md5_hex = md5;
    next.view.checksum_algorithm = arrival.checksum_algorithm;
    next.view.checksum_base64 = arrival.checksum_base64;
    next.view.content_name = std::to_string(boot) + "-" + std::to_string(++content_sequence);
    next.view.state = PhotoState::acknowledged;
    if (write_content(next.view.content_name, arrival.bytes, /*sync_directory_now=*/false)) {
      note_io_error();
      if (file_system.exists(temp_path(next.view.content_name))) {
        (void)file_system.remove(temp_path(next.view.content_name));
      }
      if (file_system.exists(content_path(next.view.content_name))) {
        (void)file_system.remove(content_path(next.view.content_name));
      }
      refuse(actions, arrival.photo_id, 503, "storing the photo failed; retry later");
      continue;
    }
    fixed_keys.push_back(settings.policy.durable_keys ? std::nullopt
                                                      : std::optional(durable_object_key(
                                                            settings.key_prefix, ++key_counter)));
    batch_bytes += arrival.bytes.size();
    staged.push_back(std::move(next));
  }
  if (!staged.empty()) {
    std::vector<PhotoView> views;
    for (const Staged& photo : staged) views.push_back(photo.view);
    std::vector<std::int64_t> row_ids;
    std::vector<std::string> object_keys;
    const bool names_durable =
        !settings.policy.sync_content_directory || !file_system.sync_directory(content_directory());
    const bool committed =
        names_durable && journal.insert_photos(views, settings.targets.size(), settings.key_prefix,
                                               fixed_keys, row_ids, object_keys);
    if (!committed) {
      note_io_error();
      for (const Staged& photo : staged) {
        // The rows were rolled back (or never written): the bytes belong to no row.
        (void)file_system.remove(content_path(photo.view.content_name));
        refuse(actions, photo.view.photo_id, 503,
               names_durable ? "journal write failed; retry later"
                             : "storing the photo failed; retry later");
      }
    } else {
      S3CHAOS_ASSERT(row_ids.size() == staged.size() && object_keys.size() == staged.size());
      for (std::size_t i = 0; i < staged.size(); ++i) {
        PhotoView view = staged[i].view;
        view.row_id = row_ids[i];
        view.object_key = object_keys[i];
        ActivePhoto photo;
        photo.view = view;
        photo.copies.resize(settings.targets.size());
        for (Copy& copy : photo.copies) copy.next_attempt_ns = now;
        known[view.photo_id] = KnownPhoto{view.row_id, view.content_name, view.md5_hex,
                                          view.object_key, PhotoState::acknowledged};
        reindex(active.emplace(view.row_id, std::move(photo)).first->second);
        metrics.cache_bytes += view.size_bytes;
        metrics.cache_photos += 1;
        acknowledge(actions, view.photo_id, view.object_key);
      }
    }
  }
  for (const PhotoArrival* arrival : later) ingest(now, *arrival, actions);
}

Uploader::Uploader(sim::FileSystem& file_system, Settings settings, sim::RandomStream random) {
  const auto error = settings_error(settings);
  S3CHAOS_ASSERT_MSG(!error.has_value(), error ? error->c_str() : "");
  state_ = std::make_unique<State>(file_system, std::move(settings), random);
}

Uploader::~Uploader() = default;

Actions Uploader::start(sim::TimeNs now) {
  Actions actions;
  if (state_->ready) return actions;
  state_->ready = state_->recover(now, actions);
  if (!state_->ready) {
    state_->note_io_error();
    state_->active.clear();
    state_->known.clear();
    state_->metrics.cache_bytes = 0;
    state_->metrics.cache_photos = 0;
    return actions;
  }
  state_->timer_at_ns.reset();
  state_->pump(now, actions);
  return actions;
}

bool Uploader::ready() const {
  return state_->ready;
}

Actions Uploader::on_photo(sim::TimeNs now, const PhotoArrival& photo) {
  Actions actions;
  state_->ingest(now, photo, actions);
  if (state_->ready) state_->pump(now, actions);
  return actions;
}

Actions Uploader::on_photos(sim::TimeNs now, const std::vector<PhotoArrival>& photos) {
  Actions actions;
  state_->ingest_batch(now, photos, actions);
  if (state_->ready) state_->pump(now, actions);
  return actions;
}

Actions Uploader::on_response(sim::TimeNs now, const ObjectStoreResponse& response) {
  Actions actions;
  if (!state_->ready) return actions;
  state_->handle_response(now, response);
  state_->pump(now, actions);
  return actions;
}

Actions Uploader::on_timer(sim::TimeNs now) {
  Actions actions;
  if (!state_->ready) return actions;
  if (state_->timer_at_ns.has_value() && *state_->timer_at_ns <= now) state_->timer_at_ns.reset();
  state_->pump(now, actions);
  return actions;
}

bool Uploader::flush_journal() {
  if (!state_->journal.is_open()) return true;
  return state_->journal.flush_staged();
}

std::vector<PhotoView> Uploader::journal_view() {
  if (!state_->journal.is_open()) return {};
  auto rows = state_->journal.load();
  return rows.has_value() ? std::move(*rows) : std::vector<PhotoView>{};
}

std::optional<std::string> Uploader::read_local_copy(const std::string& photo_id) {
  auto it = state_->known.find(photo_id);
  if (it == state_->known.end()) return std::nullopt;
  std::string bytes;
  if (state_->read_content(it->second.content_name, bytes)) return std::nullopt;
  return bytes;
}

Metrics Uploader::metrics() const {
  Metrics metrics = state_->metrics;
  metrics.requests_in_flight = state_->in_flight.size();
  return metrics;
}

const Settings& Uploader::settings() const {
  return state_->settings;
}

}  // namespace s3chaos::uploader
