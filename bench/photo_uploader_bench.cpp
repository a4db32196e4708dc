// The real photo-uploader on this machine's disk: acknowledged photos per second for 200 KiB
// photos with full durability, beside the disk's own ceiling measured in the same run.
//
//   ceiling     write 200 KiB to a temp file, fsync, rename into a directory, fsync the
//               directory: the least any durable ingest of one photo must do.
//   core/K      the uploader core's ingest on sim::PosixFileSystem and the real SQLite engine
//               (journal TRUNCATE + synchronous=FULL): K = 1 is on_photo (content file as
//               above plus one journal transaction per photo); K = 8 is on_photos with eight
//               photos (group commit: eight content fsyncs, one directory fsync, one
//               transaction). Every photo is acknowledged only after all of it is durable.
//   http/N      the whole program path: N phones PUT photos to the ingest endpoint of a
//               Runtime over 127.0.0.1 (one photo in flight per phone); a photo counts when its
//               200 arrives. The runtime hands the photos waiting at once to on_photos. The store
//               is unreachable (the upload side only backs off), so the figure is the ingest path
//               alone.
//
// Each benchmark reports photos_per_s; core and http report ratio_to_ceiling against the
// ceiling measured first in the same process. Files go under $S3CHAOS_BENCH_DIR (default: a
// fresh directory in the current one, which should be on the disk you want measured) and are
// removed afterwards.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "net/http_client.hpp"
#include "net/http_server.hpp"
#include "photo_uploader/photo_uploader.hpp"
#include "s3proto/checksum.hpp"
#include "sim/assert.hpp"
#include "sim/posix_file_system.hpp"
#include "sim/sqlite_vfs.hpp"
#include "uploader/uploader.hpp"

namespace {

using namespace s3chaos;

constexpr std::size_t photo_bytes = 200 * 1024;
// Photos per measured run: enough for a steady rate, few enough to keep disk use bounded
// (300 x 200 KiB = 60 MiB per run).
constexpr int photos_per_run = 300;

double ceiling_photos_per_s = 0;

std::string bench_root() {
  const char* configured = std::getenv("S3CHAOS_BENCH_DIR");
  std::string base = configured ? configured : ".";
  std::string pattern = base + "/photo-uploader-bench-XXXXXX";
  S3CHAOS_ASSERT(::mkdtemp(pattern.data()) != nullptr);
  return pattern;
}

std::string photo(int seed) {
  std::mt19937_64 generator(static_cast<std::uint64_t>(seed));
  std::string bytes(photo_bytes, '\0');
  for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
    const std::uint64_t value = generator();
    std::memcpy(bytes.data() + i, &value, 8);
  }
  return bytes;
}

void sync_path(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags);
  S3CHAOS_ASSERT(fd >= 0);
  S3CHAOS_ASSERT(::fsync(fd) == 0);
  ::close(fd);
}

void ceiling_bench(benchmark::State& state) {
  const std::string root = bench_root();
  std::filesystem::create_directories(root + "/tmp");
  std::filesystem::create_directories(root + "/content");
  const std::string bytes = photo(1);
  int n = 0;
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    const std::string temp = root + "/tmp/" + std::to_string(n) + ".tmp";
    const int fd = ::open(temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    S3CHAOS_ASSERT(fd >= 0);
    S3CHAOS_ASSERT(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    S3CHAOS_ASSERT(::fsync(fd) == 0);
    ::close(fd);
    S3CHAOS_ASSERT(::rename(temp.c_str(), (root + "/content/" + std::to_string(n)).c_str()) == 0);
    sync_path(root + "/content", O_RDONLY | O_DIRECTORY);
    ++n;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ceiling_photos_per_s = static_cast<double>(state.iterations()) / elapsed;
  state.counters["photos_per_s"] = ceiling_photos_per_s;
  std::filesystem::remove_all(root);
}

void report_ratio(benchmark::State& state, double photos_per_s) {
  state.counters["photos_per_s"] = photos_per_s;
  if (ceiling_photos_per_s > 0) {
    state.counters["ratio_to_ceiling"] = photos_per_s / ceiling_photos_per_s;
  }
}

// Photos per core call: 1 is on_photo; more is on_photos (group commit), as when that many
// phones post at once.
void core_bench(benchmark::State& state) {
  const auto batch_size = static_cast<int>(state.range(0));
  const std::string root = bench_root();
  sim::PosixFileSystem file_system(root);
  static int vfs_number = 0;
  const std::string vfs = "bench-" + std::to_string(vfs_number++);
  S3CHAOS_ASSERT(sim::register_sqlite_vfs(file_system, vfs) == 0);
  uploader::Settings settings;
  settings.data_directory = "";
  settings.sqlite_vfs_name = vfs;
  settings.cache_bytes_max = 1ull << 40;
  {
    uploader::Uploader core(file_system, settings, sim::RandomStream(1));
    (void)core.start(0);
    S3CHAOS_ASSERT(core.ready());
    const std::string bytes = photo(2);
    uploader::PhotoArrival arrival;
    arrival.bytes = bytes;
    arrival.checksum_algorithm = s3proto::ChecksumAlgorithm::crc32c;
    arrival.checksum_base64 = s3proto::checksum_base64(arrival.checksum_algorithm, bytes);
    int n = 0;
    sim::TimeNs now = 0;
    const auto start = std::chrono::steady_clock::now();
    for (auto _ : state) {
      // Distinct bytes per photo would cost a checksum each outside the ingest; the same bytes
      // under distinct ids are distinct photos to the core (one content file and row each).
      std::vector<uploader::PhotoArrival> batch;
      for (int i = 0; i < batch_size; ++i) {
        arrival.photo_id = "bench-" + std::to_string(n++);
        batch.push_back(arrival);
      }
      const auto actions = batch_size == 1 ? core.on_photo(now += 1000, batch[0])
                                           : core.on_photos(now += 1000, batch);
      int acknowledged = 0;
      for (const auto& action : actions) {
        acknowledged += std::holds_alternative<uploader::AcknowledgePhoto>(action) ? 1 : 0;
      }
      S3CHAOS_ASSERT(acknowledged == batch_size);
    }
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    report_ratio(state, static_cast<double>(state.iterations() * batch_size) / elapsed);
  }
  sim::unregister_sqlite_vfs(vfs);
  std::filesystem::remove_all(root);
}

void http_bench(benchmark::State& state) {
  const int phones = static_cast<int>(state.range(0));
  const std::string root = bench_root();
  photo_uploader::RuntimeConfig config;
  config.data_directory = root;
  photo_uploader::S3Endpoint endpoint;
  // Port 9 (discard) on loopback refuses at once: the upload side backs off, quietly.
  endpoint.endpoint = {"127.0.0.1", 9};
  endpoint.credentials = {"bench", "bench"};
  config.endpoints = {endpoint};
  config.settings.cache_bytes_max = 1ull << 40;
  config.settings.backoff_max_ns = sim::from_seconds(60);
  photo_uploader::Runtime runtime(config);
  const auto error = runtime.start();
  S3CHAOS_ASSERT_MSG(!error.has_value(), error ? error->c_str() : "");
  photo_uploader::IngestHandler handler(runtime, config.settings.photo_bytes_max);
  net::HttpServerOptions options;
  options.threads = static_cast<unsigned>(phones);
  net::HttpServer server(options, handler);
  server.start();
  const std::string bytes = photo(3);
  const std::string checksum = s3proto::checksum_base64(s3proto::ChecksumAlgorithm::sha256, bytes);
  net::HttpClientOptions client_options;
  client_options.connections_per_endpoint_max = static_cast<std::size_t>(phones);
  net::HttpClient client(client_options);
  int run = 0;
  double photos_total = 0;
  double seconds_total = 0;
  for (auto _ : state) {
    std::atomic<int> next{0};
    std::atomic<int> acknowledged{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int phone = 0; phone < phones; ++phone) {
      threads.emplace_back([&] {
        for (int i = next++; i < photos_per_run; i = next++) {
          net::HttpClientRequest request;
          request.method = "PUT";
          request.target = "/photos/r" + std::to_string(run) + "-" + std::to_string(i);
          request.headers.emplace_back("x-amz-checksum-sha256", checksum);
          request.body = bytes;
          const auto result =
              client.send_and_wait({"127.0.0.1", server.port()}, request, std::chrono::seconds(60));
          if (result.error == net::HttpClientError::none && result.response.status == 200) {
            ++acknowledged;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    seconds_total +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    S3CHAOS_ASSERT(acknowledged.load() == photos_per_run);
    photos_total += acknowledged.load();
    ++run;
  }
  report_ratio(state, photos_total / seconds_total);
  server.stop();
  runtime.stop();
  std::filesystem::remove_all(root);
}

}  // namespace

BENCHMARK(ceiling_bench)
    ->Name("ceiling/write_fsync_rename_dirfsync_200KiB")
    ->Iterations(photos_per_run)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(core_bench)
    ->Name("core/photos_per_call")
    ->Arg(1)
    ->Iterations(photos_per_run)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(core_bench)
    ->Name("core/photos_per_call")
    ->Arg(8)
    ->Iterations(photos_per_run / 8)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(http_bench)
    ->Name("http/phones")
    ->Arg(1)
    ->Arg(8)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
