// The real photo-uploader: the uploader core (uploader/) driven by a real clock, real disk and
// real sockets (docs/photo_uploader.md).
//
// Runtime owns the core and runs it on one driver thread: every event (a photo posted, a
// store response, the timer) is queued to that thread, which calls the core and carries out
// the actions it returns. Photos posted while the driver is busy are handed to the core
// together (Uploader::on_photos: group commit, one journal transaction for the batch); each is
// answered only when the core says it is durable. Content files and the SQLite journal live under
// the data directory, through sim::PosixFileSystem and sim's SQLite VFS over it, so the code that
// ships is the code the simulation tests. Store requests go through S3Client (SigV4 over net/).
//
// IngestHandler is the HTTP face (net::HttpHandler) on 127.0.0.1:
//   PUT  /photos/{id}   body = the photo, header x-amz-checksum-{sha256|crc32c|crc32|...}:
//                       200 + JSON once the core says durable; 503 + Retry-After under
//                       back-pressure or a local I/O failure; 400 / 409 / 413 as the core says.
//   GET  /photos/{id}   the bytes: the local copy, or after eviction from the first target.
//   GET  /photos        JSON list of photos not yet evicted (pending upload or verification).
//   GET  /health        200 {"ready":true} when the journal is open, else 503.
//   GET  /metrics       JSON counters of the core and the runtime.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "net/http_server.hpp"
#include "photo_uploader/s3_client.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::photo_uploader {

struct RuntimeConfig {
  // A real directory (created if missing) holding content/, tmp/, journal.sqlite and a lock.
  std::string data_directory;
  // The core's settings. data_directory / journal_path / sqlite_vfs_name are filled in by the
  // runtime (the data directory is the file system's root).
  uploader::Settings settings;
  // One per settings.targets, same order.
  std::vector<S3Endpoint> endpoints;
  // Seed of the backoff jitter stream (any value; production has no replay to keep).
  std::uint64_t random_seed = 0;
  // Connections per store endpoint.
  std::size_t store_connections_max = 8;
};

// What the core said about one posted photo.
struct IngestOutcome {
  int http_status = 200;  // 200 acknowledged; else the refusal's status
  std::string object_key;
  std::string reason;
  std::int64_t retry_after_seconds = 0;
};

struct RuntimeCounters {
  std::uint64_t photos_evicted_events = 0;
  std::uint64_t local_copies_lost = 0;
  std::uint64_t store_responses = 0;
  std::uint64_t ingest_requests = 0;
  // Group commits (on_photos calls): ingest_requests / ingest_batches is the mean batch.
  std::uint64_t ingest_batches = 0;
};

class Runtime {
 public:
  explicit Runtime(RuntimeConfig config);
  // stop()s.
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Validates the settings, takes the data directory's lock (one process per directory),
  // opens the journal, recovers and starts the driver thread. An error message, or nullopt.
  std::optional<std::string> start();
  // Stops the driver thread after the event in progress; requests in flight are abandoned
  // (recovery re-sends or re-verifies them on the next start). Idempotent.
  void stop();

  // Hands the photo to the core and waits for its answer (durable, or refused). Thread-safe.
  IngestOutcome ingest(uploader::PhotoArrival photo);

  // The photo's bytes: the local copy, else (evicted) a GET from the first target. nullopt if
  // unknown or unreadable; `status` says 404 (unknown) or 502 (store read failed).
  std::optional<std::string> read_photo(const std::string& photo_id, int& status);

  // JSON documents for the ingest endpoint.
  std::string pending_json(std::size_t photos_max);
  std::string metrics_json();
  bool ready();

  // The core's journal view (tests).
  std::vector<uploader::PhotoView> journal_view();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The ingest endpoint: a net::HttpHandler over a Runtime.
class IngestHandler final : public net::HttpHandler {
 public:
  explicit IngestHandler(Runtime& runtime, std::uint64_t photo_bytes_max);
  net::HeadDecision check_head(const net::RequestHead& head) override;
  net::Reply handle_request(const net::RequestHead& head, std::string body,
                            std::any& state) override;
  net::Response protocol_error_response(net::ProtocolError error) override;

 private:
  Runtime& runtime_;
  std::uint64_t photo_bytes_max_;
};

}  // namespace s3chaos::photo_uploader
