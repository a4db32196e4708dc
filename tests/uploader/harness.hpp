// A tiny in-test driver for the uploader core: a SimDisk with the SQLite VFS on it, a
// map-based fake object store whose answers a test scripts (200, errors, timeouts, writes
// acknowledged then lost), a virtual clock, and the bookkeeping a checker needs (what the
// phones were told). Not fake_s3: the uploader's tests must not depend on it.
#pragma once

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <sstream>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "s3proto/checksum.hpp"
#include "sim/disk.hpp"
#include "sim/sqlite_vfs.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::uploader::testing {

inline constexpr sim::TimeNs never_ns = std::numeric_limits<sim::TimeNs>::max();

// What the fake store does with one PUT.
struct PutFate {
  enum class Kind {
    ok,                 // Store durably, answer 200.
    http_error,         // Store nothing, answer `status`.
    timeout,            // Store nothing, never answer.
    commit_then_reset,  // Store durably, answer a connection reset.
    ack_then_lose,      // Store volatile, answer 200; the object vanishes at now + lag_ns.
    truncate,           // Store only the first half of the bytes, answer 200 with the full ETag.
  };
  Kind kind = Kind::ok;
  int status = 503;
  sim::TimeNs lag_ns = 0;
};

class FakeStore {
 public:
  struct Object {
    std::string bytes;
    std::string etag;  // as the PUT answered it
    sim::TimeNs vanishes_at_ns = never_ns;
  };

  // Fates for the next PUTs, in order; when empty, PUTs succeed.
  std::deque<PutFate> put_fates;
  // While true, every request is answered 503 (an outage).
  bool down = false;
  // The next this-many reads (HEAD / GET / LIST) are answered 500.
  std::size_t read_failures = 0;
  // Targets answering every request with 503 (one vendor down).
  std::set<std::size_t> down_targets;
  // Every request seen, for assertions.
  std::vector<ObjectStoreRequest> requests;

  // Objects the store holds now, by (target, key).
  std::map<std::pair<std::size_t, std::string>, Object> objects;

  void expire(sim::TimeNs now) {
    for (auto it = objects.begin(); it != objects.end();) {
      it = it->second.vanishes_at_ns <= now ? objects.erase(it) : std::next(it);
    }
  }

  // Rots (removes) an object, as a store breaking its contract.
  void lose(std::size_t target, const std::string& key) { objects.erase({target, key}); }

  const Object* find(std::size_t target, const std::string& key) const {
    auto it = objects.find({target, key});
    return it == objects.end() ? nullptr : &it->second;
  }

  // The answer, or nullopt for a request that never gets one.
  std::optional<ObjectStoreResponse> answer(sim::TimeNs now, const ObjectStoreRequest& request) {
    requests.push_back(request);
    requests.back().body.clear();  // bodies are checked below; keeping them costs memory
    expire(now);
    if (down || down_targets.count(request.target_index) != 0) {
      return ObjectStoreResponse::http(request.id, 503, "ServiceUnavailable");
    }
    const std::pair<std::size_t, std::string> where{request.target_index, request.key};
    switch (request.op) {
      case ObjectStoreOp::put: {
        EXPECT_EQ(request.content_md5, s3proto::md5_base64(request.body));
        EXPECT_TRUE(request.checksum_algorithm.has_value());
        if (request.checksum_algorithm.has_value()) {
          EXPECT_EQ(request.checksum_base64,
                    s3proto::checksum_base64(*request.checksum_algorithm, request.body));
        }
        PutFate fate;
        if (!put_fates.empty()) {
          fate = put_fates.front();
          put_fates.pop_front();
        }
        const std::string etag = "\"" + s3proto::md5_hex(request.body) + "\"";
        auto response = ObjectStoreResponse::ok(request.id);
        response.etag = etag;
        switch (fate.kind) {
          case PutFate::Kind::ok:
            objects[where] = Object{request.body, etag, never_ns};
            return response;
          case PutFate::Kind::http_error:
            return ObjectStoreResponse::http(request.id, fate.status, "InternalError");
          case PutFate::Kind::timeout:
            return std::nullopt;
          case PutFate::Kind::commit_then_reset:
            objects[where] = Object{request.body, etag, never_ns};
            return ObjectStoreResponse::transport(request.id, TransportError::connection_reset);
          case PutFate::Kind::ack_then_lose: {
            // An earlier durable version (if any) is gone too: the volatile write replaced it.
            objects[where] = Object{request.body, etag, now + fate.lag_ns};
            return response;
          }
          case PutFate::Kind::truncate:
            objects[where] =
                Object{request.body.substr(0, request.body.size() / 2), etag, never_ns};
            return response;
        }
        return response;
      }
      case ObjectStoreOp::head:
      case ObjectStoreOp::get: {
        if (read_failures > 0) {
          --read_failures;
          return ObjectStoreResponse::http(request.id, 500, "InternalError");
        }
        auto it = objects.find(where);
        if (it == objects.end()) return ObjectStoreResponse::http(request.id, 404, "NoSuchKey");
        auto response = ObjectStoreResponse::ok(request.id);
        response.etag = it->second.etag;
        response.size_bytes = it->second.bytes.size();
        if (request.op == ObjectStoreOp::get) response.body = it->second.bytes;
        return response;
      }
      case ObjectStoreOp::list: {
        auto response = ObjectStoreResponse::ok(request.id);
        for (const auto& [key, object] : objects) {
          if (key.first == request.target_index && key.second.starts_with(request.key)) {
            response.listed_keys.push_back(key.second);
          }
        }
        return response;
      }
      case ObjectStoreOp::delete_object:
        objects.erase(where);
        return ObjectStoreResponse::ok(request.id);
    }
    return std::nullopt;
  }
};

// Runs a RapidCheck property inside the current GoogleTest test with a fixed seed (RC_PARAMS
// overrides it) and `default_cases` cases, which S3CHAOS_PROPERTY_CASES replaces.
template <typename Testable>
void check_property(Testable&& testable, int default_cases) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) params.seed = 0x75706c6f6164ull;  // "upload"
  const char* cases = std::getenv("S3CHAOS_PROPERTY_CASES");
  params.maxSuccess = cases != nullptr && std::atoi(cases) > 0 ? std::atoi(cases) : default_cases;
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    ADD_FAILURE() << message.str() << "\n(seed " << params.seed << ")";
  }
}

// A photo with the crc32c of its bytes, as a phone would send it.
inline PhotoArrival make_photo(const std::string& photo_id, const std::string& bytes) {
  PhotoArrival photo;
  photo.photo_id = photo_id;
  photo.bytes = bytes;
  photo.checksum_algorithm = s3proto::ChecksumAlgorithm::crc32c;
  photo.checksum_base64 = s3proto::checksum_base64(photo.checksum_algorithm, bytes);
  return photo;
}

inline Settings test_settings(const std::string& policy = "protected") {
  Settings settings;
  settings.data_directory = "data/uploader";
  settings.settle_time_ns = sim::from_seconds(10);
  settings.request_timeout_ns = sim::from_seconds(2);
  settings.backoff_base_ns = sim::from_milliseconds(100);
  settings.backoff_max_ns = sim::from_seconds(5);
  auto chosen = policy_by_name(policy);
  EXPECT_TRUE(chosen.has_value()) << policy;
  if (chosen.has_value()) settings.policy = *chosen;
  return settings;
}

// One uploader on one SimDisk, a fake store, and a virtual clock.
class Harness {
 public:
  explicit Harness(Settings settings, std::uint64_t seed = 1)
      : disk_(sim::RandomStream::named(seed, "test.disk")),
        vfs_name_("uploader-test-" + std::to_string(next_vfs_number()++)),
        settings_(std::move(settings)),
        seed_(seed) {
    settings_.sqlite_vfs_name = vfs_name_;
    EXPECT_EQ(sim::register_sqlite_vfs(disk_, vfs_name_), 0);
    sim::seed_sqlite_randomness(static_cast<std::uint32_t>(seed));
  }
  ~Harness() {
    uploader_.reset();
    sim::unregister_sqlite_vfs(vfs_name_);
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  sim::SimDisk& disk() { return disk_; }
  FakeStore& store() { return store_; }
  Uploader& uploader() { return *uploader_; }
  sim::TimeNs now() const { return now_; }
  const Settings& settings() const { return settings_; }

  // Starts (or restarts after crash()) the uploader.
  void start() {
    uploader_ = std::make_unique<Uploader>(
        disk_, settings_, sim::RandomStream::named(seed_ + boots_, "uploader.backoff"));
    ++boots_;
    apply(uploader_->start(now_));
  }

  // Power loss: the uploader process dies, the disk loses what was not durable, requests in
  // flight and the timer die with the process. Then the uploader restarts.
  void crash_and_restart() {
    crash();
    start();
  }
  // The crash alone (start() restarts).
  void crash() {
    uploader_.reset();
    disk_.crash();
    in_transit_.clear();
    timer_at_ns_.reset();
  }

  // Posts a photo; returns the phone's answer (true: acknowledged).
  bool post(const PhotoArrival& photo) {
    const std::size_t acks_before = acknowledged_.size() + reacknowledged_;
    apply(uploader_->on_photo(now_, photo));
    return acknowledged_.size() + reacknowledged_ > acks_before;
  }

  // Runs the world (store answers after `latency_ns`, the timer) until `until_ns`, or until
  // the disk dies (crash point reached), which returns false.
  bool run_until(sim::TimeNs until_ns, sim::TimeNs latency_ns = sim::from_milliseconds(1)) {
    latency_ns_ = latency_ns;
    for (std::size_t steps = 0; steps < steps_max; ++steps) {
      if (disk_.crash_point_reached()) return false;
      sim::TimeNs next = never_ns;
      if (!in_transit_.empty()) next = std::min(next, in_transit_.begin()->first.first);
      if (timer_at_ns_.has_value()) next = std::min(next, *timer_at_ns_);
      if (next > until_ns) {
        now_ = std::max(now_, until_ns);
        return true;
      }
      now_ = std::max(now_, next);
      if (!in_transit_.empty() && in_transit_.begin()->first.first <= now_) {
        auto it = in_transit_.begin();
        ObjectStoreResponse response = std::move(it->second);
        in_transit_.erase(it);
        apply(uploader_->on_response(now_, response));
      } else if (timer_at_ns_.has_value() && *timer_at_ns_ <= now_) {
        timer_at_ns_.reset();
        apply(uploader_->on_timer(now_));
      }
    }
    ADD_FAILURE() << "run_until did not settle in " << steps_max << " steps";
    return false;
  }

  void advance_to(sim::TimeNs t) { now_ = std::max(now_, t); }

  // What the phones were told.
  const std::set<std::string>& acknowledged() const { return acknowledged_; }
  const std::vector<RefusePhoto>& refusals() const { return refusals_; }
  const std::set<std::string>& evicted() const { return evicted_; }
  const std::vector<std::string>& lost_locally() const { return lost_locally_; }
  std::size_t max_in_flight() const { return max_in_flight_; }
  const std::vector<sim::TimeNs>& put_times() const { return put_times_; }

  // Where the photo's exact bytes are recoverable from: local durable state (after a restart,
  // read_local_copy reads the recovered content files) or the store's durable objects.
  bool recoverable(const std::string& photo_id, const std::string& bytes) {
    if (uploader_->read_local_copy(photo_id) == bytes) return true;
    for (const PhotoView& view : uploader_->journal_view()) {
      if (view.photo_id != photo_id) continue;
      for (std::size_t target = 0; target < settings_.targets.size(); ++target) {
        const auto* object = store_.find(target, view.object_key);
        if (object != nullptr && object->vanishes_at_ns == never_ns && object->bytes == bytes) {
          return true;
        }
      }
    }
    return false;
  }

  // Temp files left behind (recovery must leave none).
  std::vector<std::string> temp_files() {
    std::vector<std::string> names;
    (void)disk_.list_directory(settings_.data_directory + "/tmp", names);
    return names;
  }

  std::optional<PhotoView> view_of(const std::string& photo_id) {
    for (PhotoView& view : uploader_->journal_view()) {
      if (view.photo_id == photo_id) return view;
    }
    return std::nullopt;
  }

 private:
  static constexpr std::size_t steps_max = 1'000'000;
  static int& next_vfs_number() {
    static int number = 0;
    return number;
  }

  void apply(const Actions& actions) {
    for (const Action& action : actions) {
      if (const auto* ack = std::get_if<AcknowledgePhoto>(&action)) {
        if (!acknowledged_.insert(ack->photo_id).second) ++reacknowledged_;
      } else if (const auto* refuse = std::get_if<RefusePhoto>(&action)) {
        refusals_.push_back(*refuse);
      } else if (const auto* request = std::get_if<ObjectStoreRequest>(&action)) {
        if (request->op == ObjectStoreOp::put) put_times_.push_back(now_);
        auto response = store_.answer(now_, *request);
        if (response.has_value()) {
          in_transit_.emplace(std::make_pair(now_ + latency_ns_, sequence_++), *response);
        }
        max_in_flight_ =
            std::max<std::size_t>(max_in_flight_, uploader_->metrics().requests_in_flight);
      } else if (const auto* timer = std::get_if<SetTimer>(&action)) {
        timer_at_ns_ = timer->at_ns;
      } else if (const auto* evicted = std::get_if<PhotoEvicted>(&action)) {
        evicted_.insert(evicted->photo_id);
      } else if (const auto* lost = std::get_if<LocalCopyLost>(&action)) {
        lost_locally_.push_back(lost->photo_id);
      }
    }
  }

  sim::SimDisk disk_;
  std::string vfs_name_;
  Settings settings_;
  std::uint64_t seed_;
  std::uint64_t boots_ = 0;
  std::unique_ptr<Uploader> uploader_;
  FakeStore store_;
  sim::TimeNs now_ = 0;
  sim::TimeNs latency_ns_ = sim::from_milliseconds(1);
  std::map<std::pair<sim::TimeNs, std::uint64_t>, ObjectStoreResponse> in_transit_;
  std::uint64_t sequence_ = 0;
  std::optional<sim::TimeNs> timer_at_ns_;
  std::set<std::string> acknowledged_;
  std::size_t reacknowledged_ = 0;
  std::vector<RefusePhoto> refusals_;
  std::set<std::string> evicted_;
  std::vector<std::string> lost_locally_;
  std::size_t max_in_flight_ = 0;
  std::vector<sim::TimeNs> put_times_;
};

}  // namespace s3chaos::uploader::testing
