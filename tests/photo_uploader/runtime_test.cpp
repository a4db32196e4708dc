// The real runtime end to end in one process: photos posted to the ingest endpoint (real
// sockets, real disk with fsync, the real SQLite journal) reach an S3-compatible endpoint that
// checks every signature and digest (mini_s3.hpp), and local copies are evicted only after the
// settle time and a verification read.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "mini_s3.hpp"
#include "net/http_client.hpp"
#include "photo_uploader/photo_uploader.hpp"
#include "s3proto/checksum.hpp"

namespace s3chaos::photo_uploader {
namespace {

using namespace std::chrono_literals;
using testing::MiniS3;

std::string temp_directory(const std::string& name) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base ? base : "/tmp") + "/" + name + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp " << pattern;
  return pattern;
}

std::string random_bytes(std::size_t size, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(generator());
  return bytes;
}

RuntimeConfig config_for(const MiniS3& store, const std::string& data_directory,
                         double settle_seconds) {
  RuntimeConfig config;
  config.data_directory = data_directory;
  std::string prefix;
  std::string error;
  S3Endpoint endpoint;
  endpoint.endpoint = *net::parse_http_url(store.url(), prefix, error);
  endpoint.credentials = {testing::mini_s3_access_key, testing::mini_s3_secret_key};
  config.endpoints = {endpoint};
  config.settings.targets = {uploader::Target{"primary", "photos"}};
  config.settings.settle_time_ns = static_cast<sim::TimeNs>(settle_seconds * 1e9);
  config.settings.request_timeout_ns = sim::from_seconds(5);
  config.settings.backoff_base_ns = sim::from_milliseconds(20);
  config.settings.backoff_max_ns = sim::from_milliseconds(200);
  config.random_seed = 42;
  return config;
}

// A runtime with its ingest endpoint, and a client for it.
struct IngestFixture {
  explicit IngestFixture(RuntimeConfig config)
      : runtime(config),
        started(runtime.start()),
        handler(runtime, config.settings.photo_bytes_max),
        server(server_options(), handler) {
    server.start();
    endpoint.host = "127.0.0.1";
    endpoint.port = server.port();
  }
  ~IngestFixture() {
    server.stop();
    runtime.stop();
  }
  static net::HttpServerOptions server_options() {
    net::HttpServerOptions options;
    options.threads = 4;
    return options;
  }

  net::HttpClientResult put(const std::string& photo_id, const std::string& bytes,
                            std::optional<std::string> checksum = std::nullopt) {
    net::HttpClientRequest request;
    request.method = "PUT";
    request.target = "/photos/" + photo_id;
    request.headers.emplace_back(
        "x-amz-checksum-sha256",
        checksum.value_or(s3proto::checksum_base64(s3proto::ChecksumAlgorithm::sha256, bytes)));
    request.body = bytes;
    return client.send_and_wait(endpoint, request, 10s);
  }
  net::HttpClientResult get(const std::string& target) {
    net::HttpClientRequest request;
    request.target = target;
    return client.send_and_wait(endpoint, request, 10s);
  }
  nlohmann::json metrics() { return nlohmann::json::parse(get("/metrics").response.body); }

  Runtime runtime;
  std::optional<std::string> started;
  IngestHandler handler;
  net::HttpServer server;
  net::HttpClient client;
  net::HttpEndpoint endpoint;
};

std::size_t content_files(const std::string& data_directory) {
  std::size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(data_directory + "/content")) {
    (void)entry;
    ++count;
  }
  return count;
}

// Photos posted through the endpoint are acknowledged, stored under their keys with the exact
// bytes, kept locally while the settle time runs, then verified and evicted; a read after
// eviction comes back from the store.
TEST(Runtime, IngestUploadsSettlesVerifiesEvicts) {
  MiniS3 store;
  const std::string data = temp_directory("photo-uploader-runtime");
  const double settle_seconds = 1.0;
  IngestFixture uploader(config_for(store, data, settle_seconds));
  ASSERT_FALSE(uploader.started.has_value()) << *uploader.started;

  std::map<std::string, std::string> photos;
  const auto first_ack = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    const std::string id = "p-" + std::to_string(i);
    photos[id] = random_bytes(20'000 + i, i);
    const auto result = uploader.put(id, photos[id]);
    ASSERT_EQ(result.error, net::HttpClientError::none) << result.message;
    ASSERT_EQ(result.response.status, 200) << result.response.body;
    EXPECT_TRUE(nlohmann::json::parse(result.response.body)["acknowledged"].get<bool>());
  }
  // Acknowledged means on disk: five content files, five pending photos.
  EXPECT_EQ(content_files(data), 5u);
  const auto pending = nlohmann::json::parse(uploader.get("/photos").response.body);
  EXPECT_EQ(pending["count"], 5);

  // The store gets every photo long before the settle time ends; the local copies stay.
  for (int i = 0; i < 500 && store.objects("photos").size() < 5; ++i)
    std::this_thread::sleep_for(2ms);
  const auto stored = store.objects("photos");
  ASSERT_EQ(stored.size(), 5u);
  const auto stored_at = std::chrono::steady_clock::now();
  if (stored_at - first_ack < 700ms) {
    EXPECT_EQ(uploader.metrics()["cache_photos"], 5);
    EXPECT_EQ(content_files(data), 5u);
  }
  std::set<std::string> stored_bytes;
  for (const auto& [key, bytes] : stored) stored_bytes.insert(bytes);
  for (const auto& [id, bytes] : photos) EXPECT_TRUE(stored_bytes.count(bytes)) << id;

  // Eviction only after the settle time and a read-back.
  for (int i = 0; i < 1000 && uploader.metrics()["cache_photos"] != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  const auto drained_at = std::chrono::steady_clock::now();
  EXPECT_EQ(uploader.metrics()["cache_photos"], 0);
  EXPECT_GE(drained_at - first_ack, std::chrono::duration<double>(settle_seconds));
  EXPECT_EQ(content_files(data), 0u);
  EXPECT_GE(store.requests.load(), 10u);  // a PUT and a verification read per photo
  EXPECT_EQ(store.bad_signatures.load(), 0u);
  const auto metrics = uploader.metrics();
  EXPECT_EQ(metrics["photos_evicted"], 5);
  EXPECT_EQ(metrics["photos_acknowledged"], 5);

  // Read back after eviction: from the store, the exact bytes.
  const auto read = uploader.get("/photos/p-3");
  EXPECT_EQ(read.response.status, 200);
  EXPECT_EQ(read.response.body, photos["p-3"]);
  EXPECT_EQ(uploader.get("/photos/nope").response.status, 404);
  std::filesystem::remove_all(data);
}

// Copy records are group-committed with the next journal transaction; a clean stop writes
// the ones still staged, so the journal on disk says the photo is in the store and the next
// start does not PUT it again.
TEST(Runtime, CleanStopCommitsStagedCopyRecords) {
  MiniS3 store;
  const std::string data = temp_directory("photo-uploader-stop");
  {
    IngestFixture uploader(config_for(store, data, 600.0));
    ASSERT_FALSE(uploader.started.has_value()) << *uploader.started;
    const auto result = uploader.put("p-1", random_bytes(10'000, 1));
    ASSERT_EQ(result.response.status, 200) << result.response.body;
    for (int i = 0; i < 500 && store.objects("photos").empty(); ++i)
      std::this_thread::sleep_for(2ms);
    ASSERT_EQ(store.objects("photos").size(), 1u);
    // The store keeps the object before it answers: wait until the core has the 200.
    for (int i = 0; i < 500 && uploader.metrics()["requests_in_flight"] != 0; ++i)
      std::this_thread::sleep_for(10ms);
    ASSERT_EQ(uploader.metrics()["requests_in_flight"], 0);
  }  // server and runtime stop here
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((data + "/journal.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT state, put_acked_ns FROM copies", -1, &select, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(select), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(select, 0), static_cast<int>(uploader::CopyState::uploaded));
  EXPECT_GT(sqlite3_column_int64(select, 1), 0);
  EXPECT_EQ(sqlite3_step(select), SQLITE_DONE);
  sqlite3_finalize(select);
  sqlite3_close(db);
  std::filesystem::remove_all(data);
}

// With the store down the uploader keeps acknowledging until its cache is full, then answers
// 503 with Retry-After; once the store is back it drains and accepts again.
TEST(Runtime, BackPressureWhileTheStoreIsDown) {
  MiniS3 store;
  store.down = true;
  const std::string data = temp_directory("photo-uploader-backpressure");
  RuntimeConfig config = config_for(store, data, 0.05);
  config.settings.cache_bytes_max = 3 * 10'000;
  IngestFixture uploader(config);
  ASSERT_FALSE(uploader.started.has_value()) << *uploader.started;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(uploader.put("bp-" + std::to_string(i), random_bytes(10'000, i)).response.status,
              200);
  }
  const auto refused = uploader.put("bp-3", random_bytes(10'000, 3));
  EXPECT_EQ(refused.response.status, 503);
  EXPECT_EQ(refused.response.header("retry-after").value_or(""), "5");
  store.down = false;
  for (int i = 0; i < 500 && uploader.metrics()["cache_photos"] != 0; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(uploader.metrics()["cache_photos"], 0);
  EXPECT_EQ(uploader.put("bp-3", random_bytes(10'000, 3)).response.status, 200);
  for (int i = 0; i < 500 && store.objects("photos").size() < 4; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(store.objects("photos").size(), 4u);
  std::filesystem::remove_all(data);
}

// Bad requests get clear errors and change nothing.
TEST(Runtime, BadRequestsAreRefusedClearly) {
  MiniS3 store;
  const std::string data = temp_directory("photo-uploader-bad");
  IngestFixture uploader(config_for(store, data, 0.05));
  ASSERT_FALSE(uploader.started.has_value()) << *uploader.started;
  EXPECT_EQ(uploader.get("/health").response.status, 200);
  net::HttpClientRequest no_checksum;
  no_checksum.method = "PUT";
  no_checksum.target = "/photos/x";
  no_checksum.body = "bytes";
  const auto missing = uploader.client.send_and_wait(uploader.endpoint, no_checksum, 5s);
  EXPECT_EQ(missing.response.status, 400);
  EXPECT_NE(missing.response.body.find("x-amz-checksum-sha256"), std::string::npos);
  EXPECT_EQ(uploader.put("x", "bytes", "AAAA").response.status, 400);
  EXPECT_EQ(uploader.put("x", "bytes").response.status, 200);
  EXPECT_EQ(uploader.put("x", "other bytes").response.status, 409);
  EXPECT_EQ(uploader.put("x", "bytes").response.status, 200);  // idempotent re-post
  EXPECT_EQ(uploader.get("/nowhere").response.status, 404);
  EXPECT_EQ(uploader.get("/photos/%zz").response.status, 400);
  EXPECT_EQ(uploader.metrics()["photos_acknowledged"], 2);
  // A second runtime on the same directory is refused (the journal has one writer).
  Runtime second(config_for(store, data, 0.05));
  const auto error = second.start();
  ASSERT_TRUE(error.has_value());
  EXPECT_NE(error->find("another photo-uploader"), std::string::npos) << *error;
  std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace s3chaos::photo_uploader
