// The 2008 story on real sockets: the real runtime uploads to the fake-s3 server (in process,
// port 0) whose PUTs are acknowledged before they are durable (durability lag W), and the
// service dies shortly after the photos were acknowledged, losing the volatile writes. With a
// settle time above W, protected re-uploads what the death took and every photo ends durable in
// the fake's ground truth; naive-2008, which deletes its copy on the first 200, loses photos.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "fake_s3/faults.hpp"
#include "fake_s3_server/server.hpp"
#include "photo_uploader/photo_uploader.hpp"
#include "s3proto/checksum.hpp"

namespace s3chaos::photo_uploader {
namespace {

using namespace std::chrono_literals;

const s3proto::Credentials credentials{"AKIDFAKES3TEST", "fake-s3-test-secret"};

std::string photo(int n) {
  std::string bytes(30'000, ' ');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(n) * 13 + i / 26) % 26);
  }
  return bytes;
}

// Signed CreateBucket (the runtime never creates buckets).
void create_bucket(net::HttpClient& client, const net::HttpEndpoint& endpoint,
                   const std::string& bucket) {
  s3proto::SigningRequest signing;
  signing.method = "PUT";
  signing.path = "/" + bucket;
  signing.headers = {{"host", endpoint.host_header()}};
  signing.payload_hash = std::string(s3proto::empty_payload_sha256_hex);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  const auto signed_request =
      s3proto::sign_request(signing, credentials, "us-east-1", amz_date_from_unix_seconds(seconds));
  net::HttpClientRequest request;
  request.method = "PUT";
  request.target = signed_request.request_target;
  request.headers = {{"host", endpoint.host_header()},
                     {"x-amz-date", signed_request.amz_date},
                     {"x-amz-content-sha256", signed_request.content_sha256},
                     {"authorization", signed_request.authorization}};
  const auto result = client.send_and_wait(endpoint, request, 5s);
  ASSERT_EQ(result.response.status, 200) << result.message << result.response.body;
}

struct Outcome {
  std::size_t acknowledged = 0;
  std::size_t durable_intact = 0;  // acknowledged photos durable in the truth with their bytes
  std::size_t lost_by_store = 0;   // versions the death discarded
  std::uint64_t cache_photos = 0;
};

Outcome run(const std::string& policy) {
  Outcome outcome;
  fake_s3_server::ServerOptions options;
  options.service.credentials = {credentials};
  // Every PUT is acknowledged 2 s before it is durable.
  options.service.fault_plan = fake_s3::parse_fault_plan(R"({"rules": [
    {"name": "acknowledged before durable", "window": {"start_ms": 0, "end_ms": 3600000},
     "match": {"operations": ["PutObject"]}, "effect": {"type": "durability_lag", "lag_ms": 2000}}
  ], "events": []})");
  fake_s3_server::Server store(options);
  store.start();
  net::HttpClient client;
  const net::HttpEndpoint store_endpoint{"127.0.0.1", store.port()};
  create_bucket(client, store_endpoint, "photos");

  std::string data = std::filesystem::temp_directory_path() / "photo-uploader-fake-s3-XXXXXX";
  EXPECT_NE(::mkdtemp(data.data()), nullptr);
  RuntimeConfig config;
  config.data_directory = data;
  S3Endpoint endpoint;
  endpoint.endpoint = store_endpoint;
  endpoint.credentials = credentials;
  config.endpoints = {endpoint};
  config.settings.targets = {uploader::Target{"primary", "photos"}};
  config.settings.policy = *uploader::policy_by_name(policy);
  config.settings.settle_time_ns = sim::from_milliseconds(2500);  // above W = 2 s
  config.settings.request_timeout_ns = sim::from_seconds(2);
  config.settings.backoff_base_ns = sim::from_milliseconds(50);
  config.settings.backoff_max_ns = sim::from_milliseconds(300);
  std::map<std::string, std::string> photos;
  {
    Runtime runtime(config);
    const auto error = runtime.start();
    EXPECT_FALSE(error.has_value()) << *error;
    if (error) return outcome;
    for (int n = 0; n < 10; ++n) {
      uploader::PhotoArrival arrival;
      arrival.photo_id = "p" + std::to_string(n);
      arrival.bytes = photo(n);
      arrival.checksum_algorithm = s3proto::ChecksumAlgorithm::sha256;
      arrival.checksum_base64 = s3proto::checksum_base64(arrival.checksum_algorithm, arrival.bytes);
      if (runtime.ingest(arrival).http_status == 200) {
        ++outcome.acknowledged;
        photos[arrival.photo_id] = arrival.bytes;
      }
    }
    // Wait until every PUT got its 200 (all acknowledged, none durable yet; at most 1.5 s, so
    // a slow disk still leaves the first ones volatile), then S3 dies for half a second: the
    // volatile writes are gone.
    for (int i = 0; i < 300 && store.service().truth().pending.size() < photos.size(); ++i) {
      std::this_thread::sleep_for(5ms);
    }
    store.service().trigger_death(sim::from_milliseconds(500));
    // Drain (bounded): settle, verification, re-uploads.
    for (int i = 0; i < 300; ++i) {
      const auto metrics = nlohmann::json::parse(runtime.metrics_json());
      outcome.cache_photos = metrics["cache_photos"].get<std::uint64_t>();
      if (outcome.cache_photos == 0) break;
      std::this_thread::sleep_for(50ms);
    }
    // Let any re-upload that landed become durable.
    std::this_thread::sleep_for(2200ms);
    runtime.stop();
  }
  const auto truth = store.service().truth();
  outcome.lost_by_store = truth.lost.size();
  std::set<std::string> durable_bytes;
  for (const auto& version : truth.durable_objects) {
    if (version.bucket == "photos" && version.bytes) durable_bytes.insert(*version.bytes);
  }
  for (const auto& [id, bytes] : photos) outcome.durable_intact += durable_bytes.count(bytes);
  store.stop();
  std::filesystem::remove_all(data);
  return outcome;
}

TEST(FakeS3, ProtectedSurvivesTheLifeDeathWindow) {
  const Outcome outcome = run("protected");
  EXPECT_EQ(outcome.acknowledged, 10u);
  EXPECT_GT(outcome.lost_by_store, 0u);  // the death took acknowledged PUTs
  EXPECT_EQ(outcome.cache_photos, 0u);
  EXPECT_EQ(outcome.durable_intact, 10u);
}

TEST(FakeS3, Naive2008LosesPhotosInTheWindow) {
  const Outcome outcome = run("naive-2008");
  EXPECT_EQ(outcome.acknowledged, 10u);
  EXPECT_GT(outcome.lost_by_store, 0u);
  EXPECT_LT(outcome.durable_intact, 10u);
}

}  // namespace
}  // namespace s3chaos::photo_uploader
