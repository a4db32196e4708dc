#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <variant>

#include "photo_uploader/photo_uploader.hpp"
#include "s3proto/checksum.hpp"
#include "sim/assert.hpp"
#include "sim/posix_file_system.hpp"
#include "sim/sqlite_vfs.hpp"

namespace s3chaos::photo_uploader {
namespace {

using Clock = std::chrono::steady_clock;

// Each Runtime in a process registers its own SQLite VFS (tests run several).
std::atomic<std::uint64_t> vfs_counter{0};

// Photos handed to the core in one group commit at most.
constexpr std::size_t ingest_batch_max = 64;

// Request ids of reads the runtime makes for GET /photos/{id} after eviction: the top bit set,
// so they can never collide with the core's ids (boot << 32 | sequence, boot < 2^31).
constexpr std::uint64_t runtime_request_id_bit = std::uint64_t{1} << 63;

sim::TimeNs unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct Runtime::Impl {
  explicit Impl(RuntimeConfig c) : config(std::move(c)) {}

  // The core journals `now` (a PUT's 200), so it must survive restarts: the Unix time at
  // start, advanced by the monotonic clock so that it never jumps within one run.
  sim::TimeNs now() const {
    return epoch_at_start_ns +
           std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - steady_at_start)
               .count();
  }

  Clock::time_point steady_time_of(sim::TimeNs at_ns) const {
    return steady_at_start + std::chrono::nanoseconds(at_ns - epoch_at_start_ns);
  }

  // Queues `task` for the driver thread; dropped once stopping.
  void post(std::function<void()> task) {
    {
      std::lock_guard lock(mutex);
      if (stopping) return;
      tasks.push_back(std::move(task));
    }
    wake.notify_one();
  }

  // Runs `task` on the driver thread and waits for it. false if the runtime is stopping.
  bool call(const std::function<void()>& task) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    {
      std::lock_guard lock(mutex);
      if (stopping || !running) return false;
      tasks.push_back([&task, done] {
        task();
        done->set_value();
      });
    }
    wake.notify_one();
    // A task dropped at stop never sets the promise: its destruction breaks the future.
    try {
      future.get();
      return true;
    } catch (const std::future_error&) {
      return false;
    }
  }

  // Carries out the core's actions; the answers to photos go into `outcomes` by photo id.
  void apply(const uploader::Actions& actions, std::map<std::string, IngestOutcome>* outcomes) {
    for (const uploader::Action& action : actions) {
      if (const auto* ack = std::get_if<uploader::AcknowledgePhoto>(&action)) {
        if (outcomes) {
          IngestOutcome& outcome = (*outcomes)[ack->photo_id];
          outcome.http_status = 200;
          outcome.object_key = ack->object_key;
        }
      } else if (const auto* refuse = std::get_if<uploader::RefusePhoto>(&action)) {
        if (outcomes) {
          IngestOutcome& outcome = (*outcomes)[refuse->photo_id];
          outcome.http_status = refuse->http_status;
          outcome.reason = refuse->reason;
          outcome.retry_after_seconds = refuse->retry_after_seconds;
        }
      } else if (const auto* request = std::get_if<uploader::ObjectStoreRequest>(&action)) {
        s3->send(*request, [this](uploader::ObjectStoreResponse response) {
          post([this, response = std::move(response)] {
            ++counters.store_responses;
            apply(core->on_response(now(), response), nullptr);
          });
        });
      } else if (const auto* timer = std::get_if<uploader::SetTimer>(&action)) {
        timer_at_ns = timer->at_ns;
      } else if (std::get_if<uploader::PhotoEvicted>(&action)) {
        ++counters.photos_evicted_events;
      } else if (const auto* lost = std::get_if<uploader::LocalCopyLost>(&action)) {
        ++counters.local_copies_lost;
        std::cerr << "photo-uploader: local copy lost: " << lost->photo_id << ": " << lost->reason
                  << std::endl;
      }
    }
  }

  // Group commit: every photo waiting when the driver comes round goes to the core in one
  // on_photos call (one directory fsync and one journal transaction for all), up to
  // ingest_batch_max and never the same id twice in a batch. Called with `lock` held.
  void ingest_waiting(std::unique_lock<std::mutex>& lock) {
    std::vector<PendingIngest> batch;
    std::set<std::string> ids;
    while (!ingests.empty() && batch.size() < ingest_batch_max &&
           ids.insert(ingests.front().arrival.photo_id).second) {
      batch.push_back(std::move(ingests.front()));
      ingests.pop_front();
    }
    lock.unlock();
    std::vector<uploader::PhotoArrival> arrivals;
    arrivals.reserve(batch.size());
    for (PendingIngest& pending : batch) arrivals.push_back(std::move(pending.arrival));
    counters.ingest_requests += batch.size();
    ++counters.ingest_batches;
    std::map<std::string, IngestOutcome> outcomes;
    apply(core->on_photos(now(), arrivals), &outcomes);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      auto it = outcomes.find(arrivals[i].photo_id);
      // The core answers every photo; a missing answer would be a core bug, said as a 500.
      batch[i].done.set_value(
          it != outcomes.end() ? it->second : IngestOutcome{500, "", "the core gave no answer", 0});
    }
    lock.lock();
  }

  void drive() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (!ingests.empty()) {
        ingest_waiting(lock);
        continue;
      }
      if (!tasks.empty()) {
        auto task = std::move(tasks.front());
        tasks.pop_front();
        lock.unlock();
        task();
        lock.lock();
        continue;
      }
      if (timer_at_ns.has_value()) {
        if (now() >= *timer_at_ns) {
          timer_at_ns.reset();
          lock.unlock();
          apply(core->on_timer(now()), nullptr);
          lock.lock();
          continue;
        }
        wake.wait_until(lock, steady_time_of(*timer_at_ns));
      } else {
        wake.wait(lock);
      }
    }
  }

  std::optional<std::string> start() {
    if (auto error = uploader::settings_error(config.settings)) return "settings: " + *error;
    if (config.endpoints.size() != config.settings.targets.size()) {
      return "one endpoint per target is required";
    }
    std::error_code error;
    std::filesystem::create_directories(config.data_directory, error);
    if (error) return "cannot create " + config.data_directory + ": " + error.message();
    const std::string root = std::filesystem::absolute(config.data_directory, error).string();
    if (error) return "cannot resolve " + config.data_directory + ": " + error.message();
    // The SQLite VFS does no locking and sees one process only: a second uploader on the same
    // directory would corrupt the journal, so the directory is locked for the process's life.
    const std::string lock_path = root + "/lock";
    lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0) return "cannot open " + lock_path + ": " + std::strerror(errno);
    if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
      return "another photo-uploader is using " + root + " (" + lock_path + " is locked)";
    }
    file_system = std::make_unique<sim::PosixFileSystem>(root);
    vfs_name = "photo-uploader-" + std::to_string(vfs_counter.fetch_add(1));
    sim::SqliteVfsOptions vfs_options;
    vfs_options.random_seed = config.random_seed;
    vfs_options.now = unix_now_ns;
    if (sim::register_sqlite_vfs(*file_system, vfs_name, vfs_options) != 0) {
      vfs_name.clear();
      return "cannot register the SQLite VFS";
    }
    uploader::Settings settings = config.settings;
    settings.data_directory = "";
    settings.journal_path = "";
    settings.sqlite_vfs_name = vfs_name;
    core = std::make_unique<uploader::Uploader>(*file_system, settings,
                                                sim::RandomStream(config.random_seed));
    net::HttpClientOptions http_options;
    http_options.connections_per_endpoint_max = config.store_connections_max;
    http_options.response_body_bytes_max = settings.photo_bytes_max + (1 << 20);
    http = std::make_unique<net::HttpClient>(http_options);
    s3 = std::make_unique<S3Client>(*http, config.endpoints);

    epoch_at_start_ns = unix_now_ns();
    steady_at_start = Clock::now();
    const uploader::Actions actions = core->start(now());
    if (!core->ready()) {
      return "cannot open the journal or the content directories under " + root;
    }
    apply(actions, nullptr);
    {
      std::lock_guard lock(mutex);
      running = true;
    }
    driver = std::thread([this] { drive(); });
    return std::nullopt;
  }

  void stop() {
    {
      std::lock_guard lock(mutex);
      stopping = true;
      tasks.clear();
      // Their promises break: the waiting handlers answer 503 (never acknowledged).
      ingests.clear();
    }
    wake.notify_all();
    if (driver.joinable()) driver.join();
    // The driver is gone, so the core is ours: a clean stop commits the staged copy records,
    // and the next start does not repeat those PUTs.
    if (core && core->ready()) core->flush_journal();
  }

  ~Impl() {
    stop();
    // No store callback may run once the core is gone: the client goes first.
    s3.reset();
    http.reset();
    core.reset();
    if (!vfs_name.empty()) sim::unregister_sqlite_vfs(vfs_name);
    file_system.reset();
    if (lock_fd >= 0) ::close(lock_fd);
  }

  RuntimeConfig config;
  std::unique_ptr<sim::PosixFileSystem> file_system;
  std::string vfs_name;
  int lock_fd = -1;
  std::unique_ptr<uploader::Uploader> core;
  sim::TimeNs epoch_at_start_ns = 0;
  Clock::time_point steady_at_start;

  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::function<void()>> tasks;  // guarded by mutex
  struct PendingIngest {
    uploader::PhotoArrival arrival;
    std::promise<IngestOutcome> done;
  };
  std::deque<PendingIngest> ingests;  // guarded by mutex
  bool stopping = false;              // guarded by mutex
  bool running = false;               // guarded by mutex
  std::thread driver;
  // Driver thread only.
  std::optional<sim::TimeNs> timer_at_ns;
  RuntimeCounters counters;
  std::atomic<std::uint64_t> read_sequence{0};

  std::unique_ptr<net::HttpClient> http;
  std::unique_ptr<S3Client> s3;
};

Runtime::Runtime(RuntimeConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Runtime::~Runtime() = default;

std::optional<std::string> Runtime::start() {
  return impl_->start();
}

void Runtime::stop() {
  impl_->stop();
}

IngestOutcome Runtime::ingest(uploader::PhotoArrival photo) {
  IngestOutcome shutting_down;
  shutting_down.http_status = 503;
  shutting_down.reason = "the uploader is shutting down";
  shutting_down.retry_after_seconds = impl_->config.settings.retry_after_seconds;
  std::future<IngestOutcome> answer;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping || !impl_->running) return shutting_down;
    impl_->ingests.push_back(Impl::PendingIngest{std::move(photo), {}});
    answer = impl_->ingests.back().done.get_future();
  }
  impl_->wake.notify_one();
  try {
    return answer.get();
  } catch (const std::future_error&) {
    return shutting_down;
  }
}

std::optional<std::string> Runtime::read_photo(const std::string& photo_id, int& status) {
  std::optional<std::string> local;
  std::optional<uploader::PhotoView> evicted;
  status = 503;
  const bool ran = impl_->call([&] {
    local = impl_->core->read_local_copy(photo_id);
    if (local.has_value()) return;
    for (auto& row : impl_->core->journal_view()) {
      if (row.photo_id == photo_id && row.state == uploader::PhotoState::evicted) {
        evicted = std::move(row);
        break;
      }
    }
  });
  if (!ran) return std::nullopt;
  if (local.has_value()) {
    status = 200;
    return local;
  }
  if (!evicted.has_value()) {
    status = 404;
    return std::nullopt;
  }
  // Evicted: enough targets hold a verified copy; read the first one back, and check it.
  uploader::ObjectStoreRequest request;
  request.id = runtime_request_id_bit | impl_->read_sequence.fetch_add(1);
  request.target_index = 0;
  request.op = uploader::ObjectStoreOp::get;
  request.bucket = impl_->config.settings.targets.at(0).bucket;
  request.key = evicted->object_key;
  request.timeout_ns = impl_->config.settings.request_timeout_ns;
  auto promise = std::make_shared<std::promise<uploader::ObjectStoreResponse>>();
  auto future = promise->get_future();
  impl_->s3->send(request, [promise](uploader::ObjectStoreResponse response) {
    promise->set_value(std::move(response));
  });
  uploader::ObjectStoreResponse response = future.get();
  if (response.outcome != uploader::ResponseOutcome::ok ||
      s3proto::md5_hex(response.body) != evicted->md5_hex) {
    status = 502;
    return std::nullopt;
  }
  status = 200;
  return std::move(response.body);
}

std::string Runtime::pending_json(std::size_t photos_max) {
  nlohmann::json document = {{"photos", nlohmann::json::array()}};
  std::size_t count = 0;
  impl_->call([&] {
    for (const auto& row : impl_->core->journal_view()) {
      if (row.state != uploader::PhotoState::acknowledged) continue;
      ++count;
      if (document["photos"].size() >= photos_max) continue;
      nlohmann::json copies = nlohmann::json::array();
      for (std::size_t target = 0; target < row.copies.size(); ++target) {
        copies.push_back(
            {{"target", impl_->config.settings.targets.at(target).name},
             {"state", std::string(uploader::copy_state_name(row.copies[target].state))}});
      }
      document["photos"].push_back({{"photo_id", row.photo_id},
                                    {"object_key", row.object_key},
                                    {"size_bytes", row.size_bytes},
                                    {"md5", row.md5_hex},
                                    {"copies", copies}});
    }
  });
  document["count"] = count;
  document["truncated"] = count > document["photos"].size();
  return document.dump();
}

std::string Runtime::metrics_json() {
  nlohmann::json document;
  impl_->call([&] {
    const uploader::Metrics m = impl_->core->metrics();
    const RuntimeCounters& c = impl_->counters;
    document = {{"photos_acknowledged", m.photos_acknowledged},
                {"photos_refused", m.photos_refused},
                {"photos_evicted", m.photos_evicted},
                {"requests_sent", m.requests_sent},
                {"requests_failed", m.requests_failed},
                {"requests_in_flight", m.requests_in_flight},
                {"io_errors", m.io_errors},
                {"cache_bytes", m.cache_bytes},
                {"cache_photos", m.cache_photos},
                {"cache_bytes_max", impl_->config.settings.cache_bytes_max},
                {"store_responses", c.store_responses},
                {"ingest_requests", c.ingest_requests},
                {"ingest_batches", c.ingest_batches},
                {"local_copies_lost", c.local_copies_lost},
                {"policy", impl_->config.settings.policy.name}};
  });
  return document.dump();
}

bool Runtime::ready() {
  bool ready = false;
  impl_->call([&] { ready = impl_->core->ready(); });
  return ready;
}

std::vector<uploader::PhotoView> Runtime::journal_view() {
  std::vector<uploader::PhotoView> view;
  impl_->call([&] { view = impl_->core->journal_view(); });
  return view;
}

}  // namespace s3chaos::photo_uploader
