#include "harness/world.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <pugixml.hpp>
#include <sstream>
#include <unordered_map>

#include "fake_s3/faults.hpp"
#include "fake_s3/http.hpp"
#include "s3proto/checksum.hpp"
#include "sim/assert.hpp"
#include "sim/disk.hpp"
#include "sim/network.hpp"
#include "sim/random.hpp"
#include "sim/scheduler.hpp"
#include "sim/sqlite_vfs.hpp"
#include "sim/trace.hpp"
#include "uploader/policy.hpp"
#include "uploader/uploader.hpp"

namespace s3chaos::harness {
namespace {

using sim::TimeNs;

// Bounds that keep a simulated run finite whatever the scenario says.
constexpr std::uint64_t events_max = 200'000'000;
constexpr std::size_t trace_records_kept = 0;
constexpr std::uint64_t real_photo_bytes_min = 16;
constexpr double cache_room_fraction_for_availability = 0.9;
// How long the simulated supervisor waits before calling start() again after a failed one.
constexpr TimeNs start_retry_ns = 5'000'000'000;

std::int64_t to_ms(TimeNs t) {
  return t / sim::nanoseconds_per_millisecond;
}

// A photo as the world knows it: what the phone sent and what happened to it.
struct PhotoRecord {
  std::string id;
  std::string key;
  std::string bytes;  // the real bytes (size_logical / byte_scale of them)
  std::uint64_t size_logical = 0;
  TimeNs received_ns = 0;
  std::optional<TimeNs> acked_ns;
  std::optional<TimeNs> rejected_ns;
  std::optional<TimeNs> put_ok_ns;
  std::optional<TimeNs> verified_ns;
  std::optional<TimeNs> evicted_ns;
  std::optional<TimeNs> lost_ns;
  std::string outcome;
  std::string loss_side;
  std::string loss_reason;
  // Why the uploader gave up its local copy (LocalCopyLost), if it did: the photo is then
  // neither cached nor ever evicted, whatever S3 holds.
  std::string local_copy_lost_reason;
};

// One request in flight between the uploader and a vendor.
struct InFlight {
  uploader::ObjectStoreRequest request;
  std::uint64_t incarnation = 0;
  std::size_t photo_index = SIZE_MAX;
};

struct Vendor {
  std::unique_ptr<fake_s3::FaultyS3> s3;
  std::string bucket;
};

std::string s3_error_code(const std::string& body) {
  if (body.empty()) return {};
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size())) return {};
  return document.child("Error").child("Code").text().as_string();
}

std::vector<std::string> listed_keys(const std::string& body) {
  std::vector<std::string> keys;
  pugi::xml_document document;
  if (!document.load_buffer(body.data(), body.size())) return keys;
  for (pugi::xml_node contents : document.child("ListBucketResult").children("Contents")) {
    keys.emplace_back(contents.child("Key").text().as_string());
  }
  return keys;
}

// Which side of the durability contract a lost photo is on. The store's side only when the
// uploader held up its end: at least `copies_required` vendors (the copies it must have before
// its local copy may go) durably held the photo and then rotted it after it was verified.
// Fewer -- say, one vendor rotted it while the uploader was told to keep two -- and the loss is
// the uploader's: a second vendor was there to cover the first one's broken contract.
std::string loss_contract_side(const std::vector<fake_s3::TruthView>& truths,
                               const std::string& key, TimeNs verified_ns,
                               std::uint64_t copies_required) {
  std::uint64_t vendors_that_rotted = 0;
  for (const fake_s3::TruthView& truth : truths) {
    for (const fake_s3::TruthVersion& version : truth.durable_objects) {
      if (version.key == key && version.rotted_at && *version.rotted_at >= verified_ns) {
        ++vendors_that_rotted;
        break;
      }
    }
  }
  return vendors_that_rotted > 0 && vendors_that_rotted >= copies_required ? "store" : "uploader";
}

class World {
 public:
  World(const Scenario& scenario, const RunOptions& options)
      : scenario_(scenario),
        options_(options),
        disk_(sim::RandomStream::named(options.seed, "uploader.disk")),
        network_random_(sim::RandomStream::named(options.seed, "network.latency")),
        uploader_random_(sim::RandomStream::named(options.seed, "uploader.core")),
        vfs_name_("s3chaos-world-" + std::to_string(next_world_number_++)) {
    sim::set_current_seed(options.seed);
    sim::seed_sqlite_randomness(options.seed);
    sim::SqliteVfsOptions vfs_options;
    vfs_options.random_seed = sim::RandomStream::named(options.seed, "uploader.sqlite").seed();
    S3CHAOS_ASSERT(sim::register_sqlite_vfs(disk_, vfs_name_, vfs_options) == 0);
    latency_ = sim::LatencyDistribution::log_normal(scenario.network.latency_ns_median, 0.5,
                                                    scenario.network.latency_ns_min,
                                                    scenario.network.latency_ns_max);
    settings_ = make_settings();
    make_vendors();
    generate_workload();
  }

  ~World() {
    uploader_.reset();
    sim::unregister_sqlite_vfs(vfs_name_);
  }

  RunOutput run() {
    const TimeNs end_ns = scenario_.duration_ns + scenario_.drain_ns;
    scheduler_.schedule_at(0, [this] { boot_uploader(); });
    schedule_uploader_faults();
    schedule_s3_wakeup();
    const sim::RunResult result = scheduler_.run_until(end_ns, events_max);
    S3CHAOS_ASSERT_MSG(result.reason == sim::StopReason::time_reached,
                       "the simulation hit its event bound before the scenario ended");
    for (Vendor& vendor : vendors_) vendor.s3->advance_to(end_ns);
    return finish(end_ns);
  }

 private:
  // ---- set-up -------------------------------------------------------------------------

  uploader::Settings make_settings() const {
    const UploaderConfig& config = scenario_.uploader;
    uploader::Settings settings;
    settings.sqlite_vfs_name = vfs_name_;
    auto policy = uploader::policy_by_name(options_.policy);
    S3CHAOS_ASSERT(policy.has_value());
    settings.policy = *policy;
    settings.targets.clear();
    for (std::uint64_t i = 0; i < config.targets; ++i) {
      settings.targets.push_back(
          uploader::Target{i == 0 ? "primary" : "secondary", bucket_name(i)});
    }
    settings.targets_required = config.targets_required;
    const std::uint64_t scale = scenario_.workload.byte_scale;
    settings.cache_bytes_max = std::max<std::uint64_t>(1, config.cache_bytes_max / scale);
    settings.photo_bytes_max = std::max<std::uint64_t>(
        settings.photo_bytes_max, scenario_.workload.photo_bytes_max / scale + 1);
    settings.requests_in_flight_max = config.requests_in_flight_max;
    settings.request_timeout_ns = config.request_timeout_ns;
    settings.backoff_max_ns = config.backoff_max_ns;
    settings.settle_time_ns = config.settle_time_ns;
    settings.verify_method = config.verify_method;
    return settings;
  }

  static std::string bucket_name(std::uint64_t target) {
    return target == 0 ? "photos" : "photos-vendor-" + std::to_string(target + 1);
  }

  void make_vendors() {
    for (std::uint64_t i = 0; i < scenario_.uploader.targets; ++i) {
      fake_s3::FaultPlan plan = vendor_fault_plan(scenario_, i);
      Vendor vendor;
      vendor.bucket = bucket_name(i);
      vendor.s3 = std::make_unique<fake_s3::FaultyS3>(
          fake_s3::CoreSettings{}, std::move(plan),
          sim::RandomStream::named(options_.seed, "fake_s3.vendor" + std::to_string(i)).seed());
      fake_s3::RequestContext context;
      S3CHAOS_ASSERT(vendor.s3->core().create_bucket(context, vendor.bucket).ok());
      vendors_.push_back(std::move(vendor));
    }
  }

  void generate_workload() {
    sim::RandomStream arrivals = sim::RandomStream::named(options_.seed, "workload.arrivals");
    sim::RandomStream sizes = sim::RandomStream::named(options_.seed, "workload.sizes");
    sim::RandomStream content = sim::RandomStream::named(options_.seed, "workload.content");
    const Workload& workload = scenario_.workload;
    const double log_min = std::log(static_cast<double>(workload.photo_bytes_min));
    const double log_max = std::log(static_cast<double>(workload.photo_bytes_max));
    for (std::size_t piece = 0; piece < workload.arrival_rates.size(); ++piece) {
      const ArrivalRate& rate = workload.arrival_rates[piece];
      const TimeNs piece_end = piece + 1 < workload.arrival_rates.size()
                                   ? workload.arrival_rates[piece + 1].from_ns
                                   : scenario_.duration_ns;
      if (rate.rate_per_second <= 0) continue;
      TimeNs t = rate.from_ns;
      while (photos_.size() < workload.photos_max) {
        t += static_cast<TimeNs>(arrivals.exponential(1e9 / rate.rate_per_second));
        if (t >= piece_end || t >= scenario_.duration_ns) break;
        PhotoRecord photo;
        const std::uint64_t number = photos_.size() + 1;
        const std::uint64_t phone = sizes.below(workload.phones) + 1;
        char id[64];
        std::snprintf(id, sizeof id, "phone-%04llu/p-%06llu",
                      static_cast<unsigned long long>(phone),
                      static_cast<unsigned long long>(number));
        photo.id = id;
        photo.size_logical = static_cast<std::uint64_t>(
            std::llround(std::exp(log_min + (log_max - log_min) * sizes.uniform01())));
        const std::uint64_t real_bytes =
            std::max(real_photo_bytes_min, photo.size_logical / workload.byte_scale);
        // Each word's bytes, least significant first (little-endian order, fixed here so a
        // photo's bytes do not depend on the machine).
        photo.bytes.resize(real_bytes);
        for (std::uint64_t i = 0; i < real_bytes; i += 8) {
          const std::uint64_t word = content.next_u64();
          const std::size_t count = std::min<std::uint64_t>(8, real_bytes - i);
          if constexpr (std::endian::native == std::endian::little) {
            std::memcpy(photo.bytes.data() + i, &word, count);
          } else {
            for (std::size_t j = 0; j < count; ++j)
              photo.bytes[i + j] = static_cast<char>(word >> (8 * j));
          }
        }
        photo.received_ns = t;
        const std::size_t index = photos_.size();
        photo_index_[photo.id] = index;
        photos_.push_back(std::move(photo));
        scheduler_.schedule_at(t, [this, index] { photo_arrives(index); });
      }
    }
  }

  void schedule_uploader_faults() {
    for (const UploaderFault& fault : scenario_.uploader_faults) {
      switch (fault.type) {
        case UploaderFaultType::crash:
          if (fault.at_disk_call > 0) {
            scheduler_.schedule_at(fault.at_ns, [this, fault] { arm_disk_call_crash(fault); });
          } else {
            scheduler_.schedule_at(fault.at_ns, [this, fault] { crash_uploader(fault); });
          }
          break;
        case UploaderFaultType::disk_full:
        case UploaderFaultType::fsync_error:
          scheduler_.schedule_at(fault.at_ns, [this, fault] { set_disk_fault(fault, true); });
          scheduler_.schedule_at(fault.until_ns, [this, fault] { set_disk_fault(fault, false); });
          break;
      }
    }
  }

  // ---- S3 side ------------------------------------------------------------------------

  // Keeps one wake-up scheduled at the earliest time any vendor has a timed event (a death,
  // a restart, a write becoming durable), so deaths happen at their time, in the trace too.
  void schedule_s3_wakeup() {
    std::optional<TimeNs> next;
    for (const Vendor& vendor : vendors_) {
      if (auto t = vendor.s3->next_event_time()) next = next ? std::min(*next, *t) : *t;
    }
    if (s3_wakeup_.valid()) scheduler_.cancel(s3_wakeup_);
    s3_wakeup_ = {};
    if (!next) return;
    s3_wakeup_ = scheduler_.schedule_at(std::max(*next, scheduler_.now()), [this] {
      s3_wakeup_ = {};
      for (std::size_t i = 0; i < vendors_.size(); ++i) {
        const std::uint64_t epoch = vendors_[i].s3->epoch();
        vendors_[i].s3->advance_to(scheduler_.now());
        if (vendors_[i].s3->epoch() != epoch) {
          trace_.record(scheduler_.now(), "fake_s3", "death", {static_cast<std::int64_t>(i)});
        }
      }
      schedule_s3_wakeup();
    });
  }

  fake_s3::HttpRequest to_http(const uploader::ObjectStoreRequest& request) const {
    fake_s3::HttpRequest http;
    const std::string path = "/" + request.bucket + "/" + fake_s3::percent_encode_path(request.key);
    http.headers.emplace_back("Host", "s3.amazonaws.com");
    switch (request.op) {
      case uploader::ObjectStoreOp::put:
        http.method = "PUT";
        http.target = path;
        http.body = request.body;
        http.headers.emplace_back("Content-Length", std::to_string(request.body.size()));
        if (!request.content_md5.empty())
          http.headers.emplace_back("Content-MD5", request.content_md5);
        if (request.checksum_algorithm) {
          http.headers.emplace_back(
              std::string(s3proto::checksum_header_name(*request.checksum_algorithm)),
              request.checksum_base64);
        }
        break;
      case uploader::ObjectStoreOp::head:
        http.method = "HEAD";
        http.target = path;
        break;
      case uploader::ObjectStoreOp::get:
        http.method = "GET";
        http.target = path;
        http.headers.emplace_back("x-amz-checksum-mode", "ENABLED");
        break;
      case uploader::ObjectStoreOp::list:
        http.method = "GET";
        http.target = "/" + request.bucket +
                      "?list-type=2&prefix=" + fake_s3::percent_encode_path(request.key);
        break;
      case uploader::ObjectStoreOp::delete_object:
        http.method = "DELETE";
        http.target = path;
        break;
    }
    return http;
  }

  uploader::ObjectStoreResponse from_http(const uploader::ObjectStoreRequest& request,
                                          const fake_s3::HttpResponse& http) const {
    uploader::ObjectStoreResponse response;
    response.id = request.id;
    response.http_status = http.status;
    if (http.status >= 300) {
      response.outcome = uploader::ResponseOutcome::http_error;
      response.error_code = s3_error_code(http.body);
      return response;
    }
    response.outcome = uploader::ResponseOutcome::ok;
    if (auto etag = http.header("ETag")) response.etag = std::string(*etag);
    if (auto length = http.header("Content-Length")) {
      response.size_bytes = std::strtoull(std::string(*length).c_str(), nullptr, 10);
    }
    if (request.checksum_algorithm) {
      if (auto value = http.header(s3proto::checksum_header_name(*request.checksum_algorithm))) {
        response.checksum_base64 = std::string(*value);
      }
    } else {
      for (s3proto::ChecksumAlgorithm algorithm : s3proto::all_checksum_algorithms) {
        if (auto value = http.header(s3proto::checksum_header_name(algorithm))) {
          response.checksum_base64 = std::string(*value);
          break;
        }
      }
    }
    if (request.op == uploader::ObjectStoreOp::get) response.body = http.body;
    if (request.op == uploader::ObjectStoreOp::list) response.listed_keys = listed_keys(http.body);
    return response;
  }

  TimeNs transfer_ns(std::uint64_t real_bytes) const {
    const double logical = static_cast<double>(real_bytes) * scenario_.workload.byte_scale;
    return static_cast<TimeNs>(logical * 1e9 / scenario_.network.bandwidth_bytes_per_second);
  }

  void send(const uploader::ObjectStoreRequest& request) {
    ++requests_sent_;
    S3CHAOS_ASSERT(request.target_index < vendors_.size());
    const std::uint64_t flight = next_flight_++;
    InFlight in_flight{request, incarnation_, SIZE_MAX};
    in_flight_.emplace(flight, std::move(in_flight));
    const TimeNs uplink =
        latency_.sample(network_random_) +
        (request.op == uploader::ObjectStoreOp::put ? transfer_ns(request.body.size()) : 0);
    trace_.record(scheduler_.now(), "uploader", "send",
                  {static_cast<std::int64_t>(request.id), static_cast<std::int64_t>(request.op),
                   static_cast<std::int64_t>(request.target_index)},
                  request.key);
    scheduler_.schedule_after(uplink, [this, flight] { arrive_at_s3(flight); });
  }

  void arrive_at_s3(std::uint64_t flight) {
    auto it = in_flight_.find(flight);
    S3CHAOS_ASSERT(it != in_flight_.end());
    const uploader::ObjectStoreRequest& request = it->second.request;
    Vendor& vendor = vendors_[request.target_index];
    const std::uint64_t epoch = vendor.s3->epoch();
    fake_s3::Outcome outcome = vendor.s3->handle(scheduler_.now(), to_http(request));
    schedule_s3_wakeup();
    trace_.record(scheduler_.now(), "fake_s3", "handle",
                  {static_cast<std::int64_t>(outcome.request_sequence),
                   static_cast<std::int64_t>(outcome.transport), outcome.response.status,
                   outcome.processed ? 1 : 0});
    if (outcome.processed && request.op == uploader::ObjectStoreOp::put &&
        outcome.transport == fake_s3::Transport::response && outcome.response.status == 200) {
      if (auto photo = photo_of_key(request.key)) {
        if (!photos_[*photo].put_ok_ns) photos_[*photo].put_ok_ns = scheduler_.now();
      }
    }
    switch (outcome.transport) {
      case fake_s3::Transport::hang:
        // Nothing comes back; the uploader's own time-out ends the wait.
        in_flight_.erase(it);
        return;
      case fake_s3::Transport::refused:
        deliver_after(flight, latency_.min_ns(),
                      uploader::ObjectStoreResponse::transport(
                          request.id, uploader::TransportError::connection_refused),
                      request.target_index, epoch);
        return;
      case fake_s3::Transport::reset:
        deliver_after(flight, latency_.sample(network_random_) + outcome.added_latency_ns,
                      uploader::ObjectStoreResponse::transport(
                          request.id, uploader::TransportError::connection_reset),
                      request.target_index, epoch);
        return;
      case fake_s3::Transport::response: {
        uploader::ObjectStoreResponse response = from_http(request, outcome.response);
        const TimeNs downlink = latency_.sample(network_random_) + outcome.added_latency_ns +
                                transfer_ns(outcome.response.body.size());
        deliver_after(flight, downlink, std::move(response), request.target_index, epoch);
        return;
      }
    }
  }

  void deliver_after(std::uint64_t flight, TimeNs delay, uploader::ObjectStoreResponse response,
                     std::size_t vendor_index, std::uint64_t epoch) {
    scheduler_.schedule_after(
        delay, [this, flight, response = std::move(response), vendor_index, epoch]() mutable {
          auto it = in_flight_.find(flight);
          S3CHAOS_ASSERT(it != in_flight_.end());
          const std::uint64_t incarnation = it->second.incarnation;
          in_flight_.erase(it);
          // A response computed before S3 died and due after it never arrives: the connection
          // died with the server.
          vendors_[vendor_index].s3->advance_to(scheduler_.now());
          if (vendors_[vendor_index].s3->epoch() != epoch &&
              response.outcome != uploader::ResponseOutcome::transport_error) {
            response = uploader::ObjectStoreResponse::transport(
                response.id, uploader::TransportError::connection_reset);
          }
          if (incarnation != incarnation_ || !uploader_) return;  // the process that asked is gone
          trace_.record(scheduler_.now(), "uploader", "response",
                        {static_cast<std::int64_t>(response.id),
                         static_cast<std::int64_t>(response.outcome), response.http_status});
          apply(uploader_->on_response(scheduler_.now(), response));
        });
  }

  // ---- uploader side ------------------------------------------------------------------

  void boot_uploader() {
    S3CHAOS_ASSERT(!uploader_);
    uploader_ = std::make_unique<uploader::Uploader>(
        disk_, settings_, uploader_random_.split("incarnation-" + std::to_string(incarnation_)));
    trace_.record(scheduler_.now(), "uploader", "start", {static_cast<std::int64_t>(incarnation_)});
    start_uploader();
  }

  void start_uploader() {
    apply(uploader_->start(scheduler_.now()));
    // A crash inside recovery's own disk calls leaves no uploader to check: the next boot is.
    if (!uploader_) return;
    if (!uploader_->ready()) {
      // The local state could not be opened (a disk fault during recovery): the uploader
      // refuses every photo until start() succeeds, so try again, as a supervisor would.
      const std::uint64_t incarnation = incarnation_;
      scheduler_.schedule_after(start_retry_ns, [this, incarnation] {
        if (uploader_ && incarnation_ == incarnation) start_uploader();
      });
      return;
    }
    if (incarnation_ > 0) check_recoverable_after_crash();
  }

  // A crash between two events: the process dies now; the disk keeps only what was synced.
  void crash_uploader(const UploaderFault& fault) {
    if (!uploader_) return;
    crash_now(fault.restart_after_ns, "scenario crash");
  }

  // A crash inside a disk call: the at_disk_call-th mutating call from now on never happens
  // and the process dies in it (apply() notices). A crash point armed earlier that has not
  // fired yet is replaced; a crash between events disarms it.
  void arm_disk_call_crash(const UploaderFault& fault) {
    disk_crash_restart_after_ns_ = fault.restart_after_ns;
    disk_crash_call_ = fault.at_disk_call;
    disk_.arm_crash_point(disk_.mutating_call_count() + fault.at_disk_call);
    trace_.record(scheduler_.now(), "uploader.disk", "crash_point_armed",
                  {static_cast<std::int64_t>(fault.at_disk_call)});
  }

  void crash_now(TimeNs restart_after_ns, std::string cause) {
    ++crashes_;
    trace_.record(scheduler_.now(), "uploader", "crash", {static_cast<std::int64_t>(incarnation_)});
    crash_times_.push_back(
        {scheduler_.now(), scheduler_.now() + restart_after_ns, std::move(cause)});
    uploader_.reset();
    if (timer_.valid()) scheduler_.cancel(timer_);
    timer_ = {};
    disk_.crash();
    ++incarnation_;
    scheduler_.schedule_after(restart_after_ns, [this] { boot_uploader(); });
  }

  void set_disk_fault(const UploaderFault& fault, bool active) {
    sim::DiskFaults faults;
    if (active && fault.type == UploaderFaultType::disk_full) {
      faults.capacity_bytes = disk_.used_bytes();
    }
    if (active && fault.type == UploaderFaultType::fsync_error) {
      faults.sync_error_probability = fault.probability;
    }
    disk_faults_active_ += active ? 1 : -1;
    disk_.set_faults(faults);
    trace_.record(scheduler_.now(), "uploader.disk", active ? "fault_on" : "fault_off",
                  {static_cast<std::int64_t>(fault.type)});
  }

  void photo_arrives(std::size_t index) {
    PhotoRecord& photo = photos_[index];
    trace_.record(scheduler_.now(), "phone", "post", {static_cast<std::int64_t>(index)});
    if (!uploader_) {
      photo.rejected_ns = scheduler_.now();  // connection refused: the app server is down
      return;
    }
    uploader::PhotoArrival arrival;
    arrival.photo_id = photo.id;
    arrival.bytes = photo.bytes;
    arrival.checksum_algorithm = s3proto::ChecksumAlgorithm::crc32c;
    arrival.checksum_base64 = s3proto::checksum_base64(arrival.checksum_algorithm, photo.bytes);
    const uploader::Metrics before = uploader_->metrics();
    uploader::Actions actions = uploader_->on_photo(scheduler_.now(), arrival);
    // A process that died inside the call refused nothing: the phone saw the connection drop.
    const bool died = disk_.crash_point_reached();
    for (const uploader::Action& action : actions) {
      if (died) break;
      if (const auto* refuse = std::get_if<uploader::RefusePhoto>(&action)) {
        const bool full =
            static_cast<double>(before.cache_bytes + photo.bytes.size()) >
            cache_room_fraction_for_availability * static_cast<double>(settings_.cache_bytes_max);
        if (!full && disk_faults_active_ == 0 && uploader_->ready()) {
          violations_.push_back({"availability", photo.id, scheduler_.now(),
                                 "refused (" + std::to_string(refuse->http_status) + ": " +
                                     refuse->reason +
                                     ") while the cache had room and the disk was healthy",
                                 "uploader"});
        }
      }
    }
    apply(std::move(actions));
  }

  void apply(uploader::Actions actions) {
    if (disk_.crash_point_reached()) {
      // The process died inside a disk call of the call that returned these actions. What it
      // said before dying reached the phone (an acknowledgement sent ahead of the writes);
      // requests, timers and refusals died with it.
      for (uploader::Action& action : actions) {
        if (auto* ack = std::get_if<uploader::AcknowledgePhoto>(&action)) apply_one(*ack);
      }
      crash_now(disk_crash_restart_after_ns_,
                "crash inside disk call " + std::to_string(disk_crash_call_));
      return;
    }
    for (uploader::Action& action : actions) {
      std::visit([this](auto& a) { apply_one(a); }, action);
    }
    const uploader::Metrics metrics = uploader_ ? uploader_->metrics() : uploader::Metrics{};
    cache_peak_bytes_ =
        std::max(cache_peak_bytes_, metrics.cache_bytes * scenario_.workload.byte_scale);
  }

  void apply_one(const uploader::AcknowledgePhoto& ack) {
    const std::size_t index = photo_index_.at(ack.photo_id);
    PhotoRecord& photo = photos_[index];
    if (!photo.acked_ns) photo.acked_ns = scheduler_.now();
    photo.key = ack.object_key;
    key_photo_[ack.object_key] = index;
    trace_.record(scheduler_.now(), "uploader", "ack", {static_cast<std::int64_t>(index)},
                  ack.object_key);
  }
  void apply_one(const uploader::RefusePhoto& refuse) {
    const std::size_t index = photo_index_.at(refuse.photo_id);
    if (!photos_[index].acked_ns) photos_[index].rejected_ns = scheduler_.now();
    trace_.record(scheduler_.now(), "uploader", "refuse",
                  {static_cast<std::int64_t>(index), refuse.http_status});
  }
  void apply_one(const uploader::ObjectStoreRequest& request) { send(request); }
  void apply_one(const uploader::SetTimer& timer) {
    if (timer_.valid()) scheduler_.cancel(timer_);
    timer_ = scheduler_.schedule_at(std::max(timer.at_ns, scheduler_.now()), [this] {
      timer_ = {};
      if (uploader_) apply(uploader_->on_timer(scheduler_.now()));
    });
  }
  void apply_one(const uploader::PhotoEvicted& evicted) {
    auto it = photo_index_.find(evicted.photo_id);
    S3CHAOS_ASSERT(it != photo_index_.end());
    PhotoRecord& photo = photos_[it->second];
    if (!photo.evicted_ns) photo.evicted_ns = scheduler_.now();
    last_eviction_ns_ = scheduler_.now();
    trace_.record(scheduler_.now(), "uploader", "evict", {static_cast<std::int64_t>(it->second)});
  }
  void apply_one(const uploader::LocalCopyLost& lost) {
    trace_.record(scheduler_.now(), "uploader", "local_copy_lost", {}, lost.photo_id);
    if (auto it = photo_index_.find(lost.photo_id); it != photo_index_.end()) {
      photos_[it->second].local_copy_lost_reason = lost.reason;
    }
  }

  std::optional<std::size_t> photo_of_key(const std::string& key) const {
    auto it = key_photo_.find(key);
    if (it == key_photo_.end()) return std::nullopt;
    return it->second;
  }

  // ---- the checker ----------------------------------------------------------------------

  // The newest durable version of every key, at every vendor: what S3 really holds now.
  // A durable object as the checker needs it: its bytes, and whether the store itself
  // changed them after storing them (bit rot: the store breaking its contract).
  struct DurableCopy {
    std::shared_ptr<const std::string> bytes;
    bool rotted_by_store = false;
  };
  using DurableIndex = std::map<std::string, std::vector<DurableCopy>>;
  std::vector<fake_s3::TruthView> vendor_truths() const {
    std::vector<fake_s3::TruthView> truths;
    for (const Vendor& vendor : vendors_) truths.push_back(vendor.s3->truth());
    return truths;
  }
  static DurableIndex durable_index(const std::vector<fake_s3::TruthView>& truths) {
    DurableIndex index;
    for (const fake_s3::TruthView& truth : truths) {
      for (const fake_s3::TruthVersion& version : truth.durable_objects) {
        index[version.key].push_back({version.bytes, version.rotted_at.has_value()});
      }
    }
    return index;
  }

  // Keys the journal assigned to photos whose acknowledgement did not carry one (a policy
  // that acknowledges before the journal entry exists), and evictions it recorded.
  void learn_keys_from_journal() {
    if (!uploader_) return;
    learn_keys_from(uploader_->journal_view());
  }
  void learn_keys_from(const std::vector<uploader::PhotoView>& journal) {
    for (const uploader::PhotoView& view : journal) {
      auto it = photo_index_.find(view.photo_id);
      if (it == photo_index_.end() || view.object_key.empty()) continue;
      PhotoRecord& photo = photos_[it->second];
      if (photo.key.empty() && photo.acked_ns) {
        photo.key = view.object_key;
        key_photo_[view.object_key] = it->second;
      }
      // An eviction journaled by a process that died later in the same call: its PhotoEvicted
      // died with it, the journal (what recovery goes by) holds it.
      if (view.state == uploader::PhotoState::evicted && photo.acked_ns && !photo.evicted_ns) {
        photo.evicted_ns = scheduler_.now();
        last_eviction_ns_ = std::max(last_eviction_ns_, scheduler_.now());
      }
    }
  }
  static bool durable_in_s3(const DurableIndex& index, const std::string& key,
                            const std::string& bytes) {
    auto it = index.find(key);
    if (it == index.end()) return false;
    for (const DurableCopy& stored : it->second) {
      if (stored.bytes && *stored.bytes == bytes) return true;
    }
    return false;
  }

  // Safety at a crash point: right after recovery, every acknowledged photo is recoverable
  // from the uploader's durable local state or from S3's durable truth.
  void check_recoverable_after_crash() {
    learn_keys_from_journal();
    const DurableIndex index = durable_index(vendor_truths());
    for (PhotoRecord& photo : photos_) {
      if (!photo.acked_ns || photo.lost_ns) continue;
      const std::optional<std::string> local = uploader_->read_local_copy(photo.id);
      if (local && *local == photo.bytes) continue;
      if (!photo.key.empty() && durable_in_s3(index, photo.key, photo.bytes)) continue;
      photo.lost_ns = scheduler_.now();
      photo.loss_side = "uploader";
      photo.loss_reason =
          "after the uploader crashed and recovered, neither its local state nor S3's durable "
          "truth holds the photo";
      violations_.push_back({"safety", photo.id, scheduler_.now(), photo.loss_reason, "uploader"});
    }
  }

  RunOutput finish(TimeNs end_ns) {
    RunOutput output;
    disk_.disarm_crash_point();  // a crash point that never fired must not fire in the checker
    RunSummary& summary = output.summary;
    const TimeNs last_fault_end = last_fault_end_ns(scenario_);
    // One view of each vendor's truth serves the index, the lost writes and the loss sides.
    const std::vector<fake_s3::TruthView> truths = vendor_truths();
    // One read of the journal (every row it holds) serves the keys and the verification times.
    const std::vector<uploader::PhotoView> journal =
        uploader_ ? uploader_->journal_view() : std::vector<uploader::PhotoView>{};
    learn_keys_from(journal);
    const DurableIndex index = durable_index(truths);
    // Verification times come from the journal: the uploader's own durable record.
    if (uploader_) {
      for (const uploader::PhotoView& view : journal) {
        auto it = photo_index_.find(view.photo_id);
        if (it == photo_index_.end()) continue;
        for (const uploader::CopyView& copy : view.copies) {
          if (copy.state == uploader::CopyState::verified) {
            photos_[it->second].verified_ns = copy.verified_ns;
            break;
          }
        }
      }
    }

    for (PhotoRecord& photo : photos_) {
      ++summary.photos_received;
      if (photo.put_ok_ns) ++summary.photos_uploaded;
      if (photo.evicted_ns) ++summary.photos_evicted;
      if (!photo.acked_ns) {
        photo.outcome = "rejected";
        ++summary.photos_rejected;
        continue;
      }
      ++summary.photos_acked;
      const bool in_s3 = !photo.key.empty() && durable_in_s3(index, photo.key, photo.bytes);
      std::optional<std::string> local;
      if (uploader_) local = uploader_->read_local_copy(photo.id);
      const bool in_cache = local && *local == photo.bytes;
      if (photo.verified_ns) ++summary.photos_verified;
      if (in_s3) {
        photo.outcome = "stored";
        ++summary.photos_stored;
      } else if (in_cache) {
        photo.outcome = "cached";
      } else {
        photo.outcome = "lost";
      }
      if (photo.outcome == "lost") {
        ++summary.photos_lost;
        TimeNs lost_at = photo.evicted_ns.value_or(end_ns);
        std::string reason =
            "acknowledged, then neither the uploader's local state nor S3's durable truth holds it";
        for (const fake_s3::TruthView& truth : truths) {
          for (const fake_s3::TruthVersion& version : truth.lost) {
            if (version.key == photo.key && version.lost_at) {
              lost_at = std::max(lost_at, *version.lost_at);
              reason =
                  "S3 answered 200 OK to its PUT, the write was still volatile (durability lag), "
                  "and S3 died before it became durable";
            }
          }
        }
        if (!photo.lost_ns) {
          photo.lost_ns = lost_at;
          photo.loss_side =
              loss_contract_side(truths, photo.key, photo.verified_ns.value_or(0),
                                 std::max<std::uint64_t>(1, scenario_.uploader.targets_required));
          photo.loss_reason = reason;
          violations_.push_back({"safety", photo.id, lost_at, reason, photo.loss_side});
        }
      }
      // Integrity: whatever S3 durably holds under the photo's key must be the photo's bytes.
      if (auto it = index.find(photo.key);
          it != index.end() && key_photo_.at(photo.key) == photo_index_.at(photo.id)) {
        // Bytes the store rotted itself are its broken contract, judged by safety (is there
        // still a good copy anywhere?), not an integrity fault of the uploader.
        for (const DurableCopy& stored : it->second) {
          if (stored.bytes && *stored.bytes != photo.bytes && !stored.rotted_by_store) {
            violations_.push_back(
                {"integrity", photo.id, end_ns,
                 "S3 durably holds other bytes under the photo's key " + photo.key, "uploader"});
          }
        }
      }
      // Liveness: once faults end, every acknowledged photo reaches S3 and leaves the cache.
      if (photo.outcome == "cached" || (photo.outcome == "stored" && !photo.evicted_ns)) {
        // Safe by the letter (S3 durably holds the bytes) but never verified and drained: say
        // whether the copy still sits in the cache or the uploader gave it up.
        const std::string detail =
            !in_cache && !photo.local_copy_lost_reason.empty()
                ? "never verified nor drained: the uploader gave up the photo (" +
                      photo.local_copy_lost_reason +
                      "); S3 happens to hold its bytes, but nothing the uploader knows vouches "
                      "for them"
                : "still in the local cache at the end of the drain period";
        violations_.push_back({"liveness", photo.id, end_ns, detail, "uploader"});
      } else if (photo.evicted_ns &&
                 *photo.evicted_ns >
                     std::max(last_fault_end, *photo.acked_ns) + scenario_.drain_deadline_ns &&
                 photo.outcome == "stored") {
        // The bound runs from the later of the last fault's end and the photo's own
        // acknowledgement: a photo posted after the faults gets the whole bound too.
        violations_.push_back({"liveness", photo.id, *photo.evicted_ns,
                               "drained later than drain_deadline_s after the last fault",
                               "uploader"});
      }
    }
    // Two different photos acknowledged under one key: one overwrote the other.
    std::map<std::string, std::size_t> first_owner;
    for (std::size_t i = 0; i < photos_.size(); ++i) {
      const PhotoRecord& photo = photos_[i];
      if (!photo.acked_ns || photo.key.empty()) continue;
      auto [it, inserted] = first_owner.emplace(photo.key, i);
      if (!inserted) {
        violations_.push_back({"integrity", photo.id, *photo.acked_ns,
                               "acknowledged under key " + photo.key + ", already used by photo " +
                                   photos_[it->second].id,
                               "uploader"});
      }
    }

    std::stable_sort(violations_.begin(), violations_.end(),
                     [](const Violation& a, const Violation& b) { return a.at_ns < b.at_ns; });
    summary.scenario = scenario_.name;
    summary.seed = options_.seed;
    summary.policy = options_.policy;
    summary.violations = violations_;
    summary.holds = violations_.empty();
    summary.requests_sent = requests_sent_;
    summary.uploader_crashes = crashes_;
    summary.cache_peak_bytes = cache_peak_bytes_;
    summary.events_run = scheduler_.events_run();
    summary.simulated_seconds = sim::to_seconds(end_ns);
    bool drained = summary.photos_acked == summary.photos_evicted;
    summary.drain_time_ms =
        drained ? std::max<std::int64_t>(0, to_ms(last_eviction_ns_ - last_fault_end)) : -1;
    trace_.record(end_ns, "world", "end",
                  {static_cast<std::int64_t>(summary.photos_acked),
                   static_cast<std::int64_t>(summary.photos_lost),
                   static_cast<std::int64_t>(violations_.size())});
    summary.trace_hash = trace_.hash().hex();
    summary.replay_command =
        options_.program + " run " + (scenario_.path.empty() ? scenario_.name : scenario_.path) +
        " --seed " + std::to_string(options_.seed) + " --policy " + options_.policy;
    output.run_result = run_result_json(summary, end_ns);
    return output;
  }

  nlohmann::json run_result_json(const RunSummary& summary, TimeNs end_ns) const;

  const Scenario& scenario_;
  RunOptions options_;
  sim::Scheduler scheduler_;
  sim::Trace trace_{trace_records_kept};
  sim::SimDisk disk_;
  sim::RandomStream network_random_;
  sim::RandomStream uploader_random_;
  sim::LatencyDistribution latency_;
  std::string vfs_name_;
  uploader::Settings settings_;
  std::vector<Vendor> vendors_;
  std::unique_ptr<uploader::Uploader> uploader_;
  std::uint64_t incarnation_ = 0;
  sim::EventId timer_;
  sim::EventId s3_wakeup_;
  std::vector<PhotoRecord> photos_;
  // Hashed, not ordered: looked up on every event by ids that share long prefixes, never
  // iterated (an iteration here would make the run depend on the hash order).
  std::unordered_map<std::string, std::size_t> photo_index_;
  std::unordered_map<std::string, std::size_t> key_photo_;
  std::map<std::uint64_t, InFlight> in_flight_;
  std::uint64_t next_flight_ = 1;
  std::uint64_t requests_sent_ = 0;
  std::uint64_t crashes_ = 0;
  struct CrashRecord {
    TimeNs at_ns = 0;
    TimeNs restart_ns = 0;
    std::string cause;
  };
  std::vector<CrashRecord> crash_times_;
  TimeNs disk_crash_restart_after_ns_ = 0;
  std::uint64_t disk_crash_call_ = 0;
  int disk_faults_active_ = 0;
  std::uint64_t cache_peak_bytes_ = 0;
  TimeNs last_eviction_ns_ = 0;
  std::vector<Violation> violations_;

  static inline std::atomic<std::uint64_t> next_world_number_{1};
};

// S3's health over time for the report, flattened from the fault plan: at each moment the most
// severe state any rule or death puts S3 in.
nlohmann::json s3_health_json(const Scenario& scenario, TimeNs end_ns) {
  enum Severity { up = 0, brownout = 1, window = 2, outage = 3, dead = 4 };
  static const char* names[] = {"up", "brownout", "life_death_window", "outage", "dead"};
  struct Span {
    TimeNs start, end;
    Severity severity;
    std::string note;
  };
  std::vector<Span> spans;
  for (const fake_s3::FaultRule& rule : scenario.fault_plan.rules) {
    const TimeNs start = rule.window.start_ns.value_or(0);
    const TimeNs end = std::min(rule.window.end_ns.value_or(scenario.duration_ns), end_ns);
    if (end <= start) continue;
    Severity severity = brownout;
    switch (rule.effect.type) {
      case fake_s3::EffectType::refuse:
      case fake_s3::EffectType::hang:
      case fake_s3::EffectType::reset:
      case fake_s3::EffectType::error:
        severity = rule.match.probability >= 0.95 ? outage : brownout;
        break;
      case fake_s3::EffectType::durability_lag:
        severity = rule.effect.lag_ns > 0 ? window : up;
        break;
      default:
        severity = brownout;
    }
    if (severity != up) spans.push_back({start, end, severity, rule.name});
  }
  for (const fake_s3::FaultEvent& event : scenario.fault_plan.events) {
    if (event.type == fake_s3::EventType::death) {
      spans.push_back(
          {event.at_ns,
           std::min(end_ns, event.at_ns + std::max<TimeNs>(event.down_ns, sim::from_seconds(1))),
           dead, event.name});
    }
  }
  std::vector<TimeNs> cuts = {0, end_ns};
  for (const Span& span : spans) {
    cuts.push_back(span.start);
    cuts.push_back(span.end);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  nlohmann::json bands = nlohmann::json::array();
  for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
    const TimeNs a = cuts[i], b = cuts[i + 1];
    if (b <= a || a >= end_ns) continue;
    Severity worst = up;
    std::string note;
    for (const Span& span : spans) {
      if (span.start <= a && span.end >= b && span.severity >= worst) {
        worst = span.severity;
        note = span.note;
      }
    }
    if (!bands.empty() && bands.back()["state"] == names[worst] &&
        bands.back().value("note", "") == note) {
      bands.back()["end_ms"] = to_ms(b);
      continue;
    }
    nlohmann::json band = {{"start_ms", to_ms(a)}, {"end_ms", to_ms(b)}, {"state", names[worst]}};
    if (!note.empty()) band["note"] = note;
    if (to_ms(b) > to_ms(a)) bands.push_back(band);
  }
  return bands;
}

nlohmann::json World::run_result_json(const RunSummary& summary, TimeNs end_ns) const {
  nlohmann::json result;
  result["format"] = "s3chaos.run_result";
  result["format_version"] = 1;
  result["scenario"] = {{"name", scenario_.name}, {"document", scenario_.document}};
  if (!scenario_.path.empty()) result["scenario"]["path"] = scenario_.path;
  result["seed"] = summary.seed;
  result["policy"] = summary.policy;
  result["trace_hash"] = summary.trace_hash;
  result["replay_command"] = summary.replay_command;
  result["duration_ms"] = to_ms(end_ns);
  if (scenario_.clock_origin) result["clock_origin"] = *scenario_.clock_origin;
  result["verdict"] = summary.holds ? "holds" : "violated";
  nlohmann::json checks = nlohmann::json::array();
  for (const char* name : {"safety", "integrity", "liveness", "availability"}) {
    nlohmann::json check = {{"name", name}, {"holds", true}};
    std::size_t count = 0;
    std::string first;
    std::string side;
    for (const Violation& violation : summary.violations) {
      if (violation.check != name) continue;
      if (count++ == 0) {
        first = violation.photo_id + ": " + violation.detail;
        side = violation.contract_side;
      }
    }
    if (count > 0) {
      check["holds"] = false;
      check["detail"] =
          std::to_string(count) + " violation" + (count > 1 ? "s" : "") + "; first: " + first;
      check["contract_side"] = side;
    }
    checks.push_back(std::move(check));
  }
  result["checks"] = std::move(checks);
  result["s3_health"] = s3_health_json(scenario_, end_ns);
  nlohmann::json faults = nlohmann::json::array();
  for (std::size_t vendor = 0; vendor < 2; ++vendor) {
    const fake_s3::FaultPlan& plan = vendor_fault_plan(scenario_, vendor);
    const std::string vendor_note = vendor == 0 ? "" : " (second vendor)";
    for (const fake_s3::FaultRule& rule : plan.rules) {
      nlohmann::json fault = {{"start_ms", to_ms(rule.window.start_ns.value_or(0))},
                              {"kind", nlohmann::json::parse(fake_s3::fault_plan_to_json(
                                           fake_s3::FaultPlan{{rule}, {}}))["rules"][0]["effect"]
                                           .value("type", "fault")}};
      fault["end_ms"] = to_ms(std::min(rule.window.end_ns.value_or(scenario_.duration_ns), end_ns));
      if (!rule.name.empty() || vendor > 0) fault["description"] = rule.name + vendor_note;
      faults.push_back(std::move(fault));
    }
    for (const fake_s3::FaultEvent& event : plan.events) {
      nlohmann::json fault = {
          {"start_ms", to_ms(event.at_ns)},
          {"kind", event.type == fake_s3::EventType::death ? "s3_death" : "bit_rot"}};
      if (!event.name.empty() || vendor > 0) fault["description"] = event.name + vendor_note;
      faults.push_back(std::move(fault));
    }
  }
  std::stable_sort(faults.begin(), faults.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) {
                     return a["start_ms"].get<std::int64_t>() < b["start_ms"].get<std::int64_t>();
                   });
  result["faults"] = std::move(faults);
  nlohmann::json crashes = nlohmann::json::array();
  for (const CrashRecord& crash : crash_times_) {
    crashes.push_back({{"at_ms", to_ms(crash.at_ns)},
                       {"restart_ms", to_ms(std::min(crash.restart_ns, end_ns))},
                       {"cause", crash.cause}});
  }
  result["uploader_crashes"] = std::move(crashes);
  nlohmann::json photos = nlohmann::json::array();
  for (const PhotoRecord& photo : photos_) {
    nlohmann::json record = {{"id", photo.id},
                             {"size_bytes", photo.size_logical},
                             {"received_ms", to_ms(photo.received_ns)},
                             {"outcome", photo.outcome}};
    if (!photo.key.empty()) record["key"] = photo.key;
    if (photo.acked_ns) record["acked_ms"] = to_ms(*photo.acked_ns);
    if (photo.rejected_ns && !photo.acked_ns) record["rejected_ms"] = to_ms(*photo.rejected_ns);
    if (photo.put_ok_ns) record["put_ok_ms"] = to_ms(*photo.put_ok_ns);
    if (photo.verified_ns) record["verified_ms"] = to_ms(*photo.verified_ns);
    if (photo.evicted_ns) record["evicted_ms"] = to_ms(*photo.evicted_ns);
    if (photo.outcome == "lost") {
      record["lost_ms"] = to_ms(photo.lost_ns.value_or(end_ns));
      record["loss_side"] = photo.loss_side.empty() ? "uploader" : photo.loss_side;
      record["loss_reason"] = photo.loss_reason;
    }
    photos.push_back(std::move(record));
  }
  result["photos"] = std::move(photos);
  return result;
}

}  // namespace

RunOutput run_scenario(const Scenario& scenario, const RunOptions& options) {
  World world(scenario, options);
  return world.run();
}

nlohmann::json summary_json(const RunSummary& summary) {
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& violation : summary.violations) {
    violations.push_back({{"check", violation.check},
                          {"photo_id", violation.photo_id},
                          {"at_ms", to_ms(violation.at_ns)},
                          {"at_ns", violation.at_ns},
                          {"detail", violation.detail},
                          {"contract_side", violation.contract_side}});
  }
  return {{"scenario", summary.scenario},
          {"seed", summary.seed},
          {"policy", summary.policy},
          {"verdict", summary.holds ? "holds" : "violated"},
          {"photos_received", summary.photos_received},
          {"photos_acked", summary.photos_acked},
          {"photos_rejected", summary.photos_rejected},
          {"photos_uploaded", summary.photos_uploaded},
          {"photos_stored", summary.photos_stored},
          {"photos_verified", summary.photos_verified},
          {"photos_evicted", summary.photos_evicted},
          {"photos_lost", summary.photos_lost},
          {"violations", violations},
          {"requests_sent", summary.requests_sent},
          {"uploader_crashes", summary.uploader_crashes},
          {"cache_peak_bytes", summary.cache_peak_bytes},
          {"drain_time_ms", summary.drain_time_ms < 0 ? nlohmann::json(nullptr)
                                                      : nlohmann::json(summary.drain_time_ms)},
          {"events_run", summary.events_run},
          {"trace_hash", summary.trace_hash},
          {"simulated_seconds", summary.simulated_seconds},
          {"replay_command", summary.replay_command}};
}

RunSummary summary_from_json(const nlohmann::json& json) {
  RunSummary summary;
  summary.scenario = json.at("scenario").get<std::string>();
  summary.seed = json.at("seed").get<std::uint64_t>();
  summary.policy = json.at("policy").get<std::string>();
  summary.holds = json.at("verdict").get<std::string>() == "holds";
  for (const nlohmann::json& violation : json.at("violations")) {
    summary.violations.push_back(
        {violation.at("check").get<std::string>(), violation.at("photo_id").get<std::string>(),
         violation.at("at_ns").get<TimeNs>(), violation.at("detail").get<std::string>(),
         violation.at("contract_side").get<std::string>()});
  }
  summary.photos_received = json.at("photos_received").get<std::uint64_t>();
  summary.photos_acked = json.at("photos_acked").get<std::uint64_t>();
  summary.photos_rejected = json.at("photos_rejected").get<std::uint64_t>();
  summary.photos_uploaded = json.at("photos_uploaded").get<std::uint64_t>();
  summary.photos_verified = json.at("photos_verified").get<std::uint64_t>();
  summary.photos_stored = json.at("photos_stored").get<std::uint64_t>();
  summary.photos_evicted = json.at("photos_evicted").get<std::uint64_t>();
  summary.photos_lost = json.at("photos_lost").get<std::uint64_t>();
  summary.requests_sent = json.at("requests_sent").get<std::uint64_t>();
  summary.uploader_crashes = json.at("uploader_crashes").get<std::uint64_t>();
  summary.cache_peak_bytes = json.at("cache_peak_bytes").get<std::uint64_t>();
  summary.drain_time_ms =
      json.at("drain_time_ms").is_null() ? -1 : json.at("drain_time_ms").get<std::int64_t>();
  summary.events_run = json.at("events_run").get<std::uint64_t>();
  summary.trace_hash = json.at("trace_hash").get<std::string>();
  summary.simulated_seconds = json.at("simulated_seconds").get<double>();
  summary.replay_command = json.at("replay_command").get<std::string>();
  return summary;
}

}  // namespace s3chaos::harness
