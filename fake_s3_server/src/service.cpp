// The sans-I/O driver of the fake-s3 server: see server.hpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "fake_s3/http.hpp"
#include "fake_s3/storage.hpp"
#include "fake_s3_server/server.hpp"
#include "s3proto/aws_chunked.hpp"
#include "s3proto/checksum.hpp"
#include "sim/assert.hpp"
#include "sim/posix_file_system.hpp"

namespace s3chaos::fake_s3_server {

namespace {

using nlohmann::json;

// aws-chunked framing around the payload: a chunk header of at most ~100 bytes per chunk of at
// least 8 KiB (except the last), plus trailers. This bounds the encoded body by the decoded one.
constexpr std::uint64_t aws_chunked_overhead_bytes_fixed = 64 * 1024;
constexpr std::uint64_t aws_chunked_overhead_divisor = 32;

constexpr TimeNs forever_ns = std::numeric_limits<TimeNs>::max();

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// "YYYYMMDDTHHMMSSZ" for Unix time in nanoseconds.
std::string amz_date_of(TimeNs unix_ns) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ns / sim::nanoseconds_per_second);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &parts);
  return buffer;
}

// Constant-time comparison of two secrets (the admin token).
bool same_secret(std::string_view a, std::string_view b) {
  unsigned char difference = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const char x = i < a.size() ? a[i] : 0;
    const char y = i < b.size() ? b[i] : 0;
    difference |= static_cast<unsigned char>(x ^ y);
  }
  return difference == 0;
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

fake_s3::S3Error to_core_error(const s3proto::S3Error& error, std::string resource) {
  return fake_s3::S3Error{error.http_status, error.code, error.message, std::move(resource)};
}

// What check_head learned, for handle_request.
struct RequestState {
  bool admin = false;
  std::string resource;
  s3proto::PayloadMode payload_mode = s3proto::PayloadMode::unsigned_payload;
  std::string payload_sha256_hex;  // when payload_mode is sha256_hex
  std::optional<s3proto::AwsChunkedConfig> chunked;
};

net::Response to_net(fake_s3::HttpResponse response) {
  net::Response out;
  out.status = response.status;
  out.headers = std::move(response.headers);
  out.body = std::move(response.body);
  return out;
}

net::Response json_response(int status, const json& document) {
  net::Response out;
  out.status = status;
  // Messages may quote a client's invalid UTF-8: replaced, never thrown on.
  out.body = document.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
  out.headers.emplace_back("Content-Type", "application/json");
  return out;
}

net::Response json_error(int status, std::string message) {
  return json_response(status, json{{"error", std::move(message)}});
}

std::string_view durability_name(fake_s3::Durability durability) {
  switch (durability) {
    case fake_s3::Durability::volatile_pending:
      return "volatile";
    case fake_s3::Durability::durable:
      return "durable";
    case fake_s3::Durability::lost:
      return "lost";
  }
  return "?";
}

json version_json(const fake_s3::TruthVersion& version) {
  json out{{"bucket", version.bucket},
           {"key", version.key},
           {"version_sequence", version.version_sequence},
           {"is_delete", version.is_delete},
           {"etag", version.etag},
           {"acked_at_unix_ns", version.acked_at},
           {"durable_at_unix_ns", version.durable_at},
           {"durability", durability_name(version.durability)},
           {"truncated_by_store", version.truncated_by_store}};
  if (version.bytes) {
    out["size_bytes"] = version.bytes->size();
    out["sha256"] = s3proto::sha256_hex(*version.bytes);
  }
  if (version.lost_at) out["lost_at_unix_ns"] = *version.lost_at;
  if (version.rotted_at) out["rotted_at_unix_ns"] = *version.rotted_at;
  return out;
}

// Shifts a plan's times so that 0 means `origin` (the moment the plan is loaded).
fake_s3::FaultPlan shift_plan(fake_s3::FaultPlan plan, TimeNs origin) {
  for (auto& rule : plan.rules) {
    if (rule.window.start_ns) *rule.window.start_ns += origin;
    if (rule.window.end_ns) *rule.window.end_ns += origin;
  }
  for (auto& event : plan.events) event.at_ns += origin;
  return plan;
}

TimeNs stale_retention_ns(const fake_s3::FaultPlan& plan) {
  TimeNs retention = 0;
  for (const auto& rule : plan.rules) {
    if (rule.effect.type == fake_s3::EffectType::stale_reads) {
      retention = std::max(retention, rule.effect.stale_ns);
    }
  }
  return retention;
}

}  // namespace

Clock real_clock() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  const TimeNs base = std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count();
  const auto start = std::chrono::steady_clock::now();
  return [base, start] {
    return base + std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  };
}

std::vector<s3proto::Credentials> read_credentials_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open the credentials file");
  std::vector<s3proto::Credentials> result;
  std::optional<s3proto::Credentials> current;
  auto flush = [&](int line_number) {
    if (!current) return;
    if (current->access_key_id.empty() != current->secret_access_key.empty()) {
      throw std::runtime_error(path + ":" + std::to_string(line_number) +
                               ": a profile needs both aws_access_key_id and "
                               "aws_secret_access_key");
    }
    if (!current->access_key_id.empty()) result.push_back(*current);
    current.reset();
  };
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    auto trim = [](std::string_view text) {
      const auto first = text.find_first_not_of(" \t\r");
      if (first == std::string_view::npos) return std::string_view();
      const auto last = text.find_last_not_of(" \t\r");
      return text.substr(first, last - first + 1);
    };
    const std::string_view text = trim(line);
    if (text.empty() || text.front() == '#' || text.front() == ';') continue;
    if (text.front() == '[') {
      if (text.back() != ']') {
        throw std::runtime_error(path + ":" + std::to_string(line_number) +
                                 ": expected a [profile] line");
      }
      flush(line_number);
      current.emplace();
      continue;
    }
    const auto equals = text.find('=');
    if (equals == std::string_view::npos || !current) {
      throw std::runtime_error(path + ":" + std::to_string(line_number) +
                               ": expected name = value inside a [profile]");
    }
    const std::string name = lower(trim(text.substr(0, equals)));
    const std::string value(trim(text.substr(equals + 1)));
    if (name == "aws_access_key_id") current->access_key_id = value;
    if (name == "aws_secret_access_key") current->secret_access_key = value;
  }
  flush(line_number);
  if (result.empty()) throw std::runtime_error(path + ": no credentials in the file");
  return result;
}

struct Service::State {
  ServiceOptions options;
  Clock clock;
  std::map<std::string, std::string, std::less<>> secrets;
  std::atomic<std::uint64_t> driver_request_count{0};

  // The store's files (--data-dir); declared before the core that writes through it.
  std::unique_ptr<sim::PosixFileSystem> file_system;

  mutable std::mutex mutex;  // guards everything below
  std::optional<fake_s3::FaultyS3> faulty;
  fake_s3::FaultPlan plan;  // as given (times from its load)
  TimeNs plan_loaded_at = 0;
  std::uint64_t epoch_base = 0;    // deaths counted by FaultyS3 instances replaced
  std::uint64_t admin_deaths = 0;  // deaths triggered through the admin API
  std::optional<TimeNs> admin_down_until;
  std::uint64_t requests_to_core = 0;
  TimeNs last_now = 0;

  // The clock, read under the mutex so that the core sees time in the order it is read.
  TimeNs now_locked() {
    last_now = std::max(last_now, clock());
    return last_now;
  }

  std::uint64_t epoch_locked() const { return epoch_base + faulty->epoch() + admin_deaths; }

  bool admin_down_locked(TimeNs now) {
    if (admin_down_until && now >= *admin_down_until) admin_down_until.reset();
    return admin_down_until.has_value();
  }

  // Swaps in a FaultyS3 for `new_plan` (times from `origin`), keeping the core and its store.
  void install_plan_locked(fake_s3::FaultPlan new_plan, TimeNs origin, TimeNs now,
                           std::unique_ptr<fake_s3::ObjectStorage> storage = nullptr) {
    fake_s3::FaultPlan shifted = shift_plan(new_plan, origin);
    // Events already in the past of a plan being reinstalled have happened.
    std::erase_if(shifted.events, [now](const fake_s3::FaultEvent& e) { return e.at_ns < now; });
    std::optional<fake_s3::S3Core> core;
    if (faulty) {
      faulty->advance_to(now);
      epoch_base += faulty->epoch();
      core.emplace(std::move(faulty->core()));
    }
    const TimeNs retention =
        std::max(options.core_settings.history_retention_ns, stale_retention_ns(shifted));
    faulty.emplace(options.core_settings, std::move(shifted), options.seed, std::move(storage));
    if (core) {
      core->set_history_retention(retention);
      faulty->core() = std::move(*core);
    }
    plan = std::move(new_plan);
    plan_loaded_at = origin;
  }

  std::string next_driver_request_id() {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "D%015llX",
                  static_cast<unsigned long long>(++driver_request_count));
    return buffer;
  }

  net::Reply s3_error(const fake_s3::S3Error& error, const net::RequestHead& head) {
    net::Response response =
        to_net(fake_s3::error_response(error, next_driver_request_id(), head.method == "HEAD"));
    response.headers.emplace_back("Date", fake_s3::format_http_date(clock(), 0));
    response.headers.emplace_back("Server", "AmazonS3");
    return net::Reply::respond_with(std::move(response));
  }

  net::Reply admin(const net::RequestHead& head, const std::string& body);

  void death_locked(std::optional<TimeNs> down_ns) {
    const TimeNs now = now_locked();
    faulty->advance_to(now);
    faulty->core().kill(now);
    ++admin_deaths;
    if (!down_ns) {
      admin_down_until = forever_ns;
    } else if (*down_ns > 0) {
      admin_down_until = now + *down_ns;
    }
  }

  void restart_locked() {
    const TimeNs now = now_locked();
    faulty->advance_to(now);
    if (admin_down_locked(now)) {
      admin_down_until.reset();
    } else if (!faulty->is_up()) {
      // Down by a death of the plan: a FaultyS3 over the same core and the plan's remaining
      // events is up again.
      install_plan_locked(plan, plan_loaded_at, now);
    } else {
      death_locked(TimeNs{0});
    }
  }

  json truth_locked() const {
    const fake_s3::TruthView view = faulty->truth();
    json out{
        {"durable_objects", json::array()}, {"pending", json::array()}, {"lost", json::array()}};
    for (const auto& version : view.durable_objects)
      out["durable_objects"].push_back(version_json(version));
    for (const auto& version : view.pending) out["pending"].push_back(version_json(version));
    for (const auto& version : view.lost) out["lost"].push_back(version_json(version));
    return out;
  }

  json status_locked() {
    const TimeNs now = now_locked();
    faulty->advance_to(now);
    return json{{"up", faulty->is_up() && !admin_down_locked(now)},
                {"epoch", epoch_locked()},
                {"now_unix_ns", now},
                {"requests_to_core", requests_to_core},
                {"plan_loaded_at_unix_ns", plan_loaded_at},
                {"plan_rules", plan.rules.size()},
                {"plan_events", plan.events.size()},
                {"storage", options.data_dir.empty() ? "memory" : "persistent"}};
  }
};

Service::Service(ServiceOptions options, Clock clock) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
  state_->options.core_settings.epoch_unix_seconds = 0;
  state_->clock = std::move(clock);
  for (const auto& credentials : state_->options.credentials) {
    state_->secrets[credentials.access_key_id] = credentials.secret_access_key;
  }
  std::unique_ptr<fake_s3::ObjectStorage> storage;
  const std::string& data_dir = state_->options.data_dir;
  if (!data_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    if (ec) throw std::runtime_error("--data-dir " + data_dir + ": " + ec.message());
    state_->file_system = std::make_unique<sim::PosixFileSystem>(data_dir);
    storage = fake_s3::open_persistent_storage(*state_->file_system, "");
  }
  std::lock_guard lock(state_->mutex);
  const TimeNs now = state_->now_locked();
  state_->install_plan_locked(state_->options.fault_plan, now, now, std::move(storage));
}

Service::~Service() = default;

net::HeadDecision Service::check_head(const net::RequestHead& head) {
  State& s = *state_;
  net::HeadDecision decision;
  RequestState request;
  request.resource = path_of(head.target);
  if (head.target.starts_with(admin_path_prefix) ||
      head.target == admin_path_prefix.substr(0, admin_path_prefix.size() - 1)) {
    if (s.options.admin_token.empty()) {
      decision.reply = net::Reply::respond_with(json_error(404, "the admin API is disabled"));
      return decision;
    }
    std::string_view token;
    if (auto authorization = net::find_header_field(head.headers, "authorization")) {
      if (istarts_with(*authorization, "Bearer ")) token = authorization->substr(7);
    }
    if (auto header = net::find_header_field(head.headers, "x-s3chaos-admin-token"))
      token = *header;
    if (!same_secret(token, s.options.admin_token)) {
      decision.reply = net::Reply::respond_with(json_error(401, "a valid admin token is required"));
      return decision;
    }
    request.admin = true;
    decision.body_bytes_max = s.options.admin_body_bytes_max;
    if (head.content_length && *head.content_length > decision.body_bytes_max) {
      decision.reply = net::Reply::respond_with(json_error(413, "admin request body too large"));
      return decision;
    }
    decision.state = std::move(request);
    return decision;
  }

  const std::uint64_t object_max = s.options.object_bytes_max;
  const auto entity_too_large = [&] {
    return s.s3_error(
        fake_s3::S3Error{400, "EntityTooLarge",
                         "Your proposed upload exceeds the maximum allowed size", request.resource},
        head);
  };
  if (!s3proto::has_authentication(head.target, head.headers)) {
    if (!s.options.allow_anonymous) {
      decision.reply = s.s3_error(
          fake_s3::S3Error{403, "AccessDenied", "Access Denied", request.resource}, head);
      return decision;
    }
    // Anonymous: a body hash, if the client sent one, is still checked.
    if (auto hash = net::find_header_field(head.headers, "x-amz-content-sha256")) {
      if (hash->size() == 64) {
        request.payload_mode = s3proto::PayloadMode::sha256_hex;
        request.payload_sha256_hex = lower(*hash);
      }
    }
  } else {
    std::string now_amz_date;
    {
      std::lock_guard lock(s.mutex);
      now_amz_date = amz_date_of(s.now_locked());
    }
    s3proto::VerifyOptions verify_options;
    verify_options.now_amz_date = now_amz_date;
    verify_options.clock_skew_seconds_max = s.options.clock_skew_seconds_max;
    const s3proto::SecretLookup lookup =
        [&s](std::string_view access_key) -> std::optional<std::string> {
      auto it = s.secrets.find(access_key);
      if (it == s.secrets.end()) return std::nullopt;
      return it->second;
    };
    const s3proto::VerifyResult verified = s3proto::verify_request(
        s3proto::VerifyRequest{head.method, head.target, &head.headers}, lookup, verify_options);
    if (const auto* error = std::get_if<s3proto::S3Error>(&verified)) {
      decision.reply = s.s3_error(to_core_error(*error, request.resource), head);
      return decision;
    }
    const auto& ok = std::get<s3proto::VerifiedRequest>(verified);
    request.payload_mode = ok.payload_mode;
    request.payload_sha256_hex = lower(ok.payload_sha256_hex);
    const bool streaming = ok.payload_mode != s3proto::PayloadMode::sha256_hex &&
                           ok.payload_mode != s3proto::PayloadMode::unsigned_payload;
    if (streaming) {
      auto config = s3proto::aws_chunked_config(ok, head.headers);
      if (const auto* error = std::get_if<s3proto::S3Error>(&config)) {
        decision.reply = s.s3_error(to_core_error(*error, request.resource), head);
        return decision;
      }
      auto& chunked = std::get<s3proto::AwsChunkedConfig>(config);
      if (chunked.decoded_length && *chunked.decoded_length > object_max) {
        decision.reply = entity_too_large();
        return decision;
      }
      chunked.limits.decoded_bytes_max = std::min(chunked.limits.decoded_bytes_max, object_max);
      request.chunked = std::move(chunked);
    }
  }
  std::uint64_t body_max = object_max;
  if (request.chunked) {
    body_max += object_max / aws_chunked_overhead_divisor + aws_chunked_overhead_bytes_fixed;
  }
  if (head.content_length && *head.content_length > body_max) {
    decision.reply = entity_too_large();
    return decision;
  }
  decision.body_bytes_max = body_max;
  decision.state = std::move(request);
  return decision;
}

net::Reply Service::handle_request(const net::RequestHead& head, std::string body,
                                   std::any& any_state) {
  State& s = *state_;
  auto* request = std::any_cast<RequestState>(&any_state);
  S3CHAOS_ASSERT(request != nullptr);
  if (request->admin) return s.admin(head, body);

  fake_s3::HttpRequest core_request;
  core_request.method = head.method;
  core_request.target = head.target;
  core_request.headers = head.headers;
  if (request->payload_mode == s3proto::PayloadMode::sha256_hex &&
      s3proto::sha256_hex(body) != request->payload_sha256_hex) {
    return s.s3_error(to_core_error(s3proto::content_sha256_mismatch_error(), request->resource),
                      head);
  }
  if (request->chunked) {
    const auto trailer = request->chunked->trailer_checksum;
    s3proto::AwsChunkedDecoder decoder(std::move(*request->chunked));
    std::string decoded;
    decoded.reserve(std::min<std::size_t>(body.size(), s.options.object_bytes_max));
    decoder.feed(body, decoded);
    if (decoder.status() != s3proto::AwsChunkedDecoder::Status::failed) decoder.finish();
    if (decoder.status() != s3proto::AwsChunkedDecoder::Status::done) {
      const s3proto::S3Error error = decoder.error().value_or(
          s3proto::S3Error{400, "IncompleteBody", "The request body is incomplete"});
      return s.s3_error(to_core_error(error, request->resource), head);
    }
    body = std::move(decoded);
    // The core sees the object as if it had been sent plainly: without the aws-chunked
    // content coding, and with the trailer's checksum as a header (it stores it).
    auto& headers = core_request.headers;
    for (auto it = headers.begin(); it != headers.end();) {
      if (iequals(it->first, "content-encoding")) {
        std::string kept;
        std::string_view codings = it->second;
        while (!codings.empty()) {
          const auto comma = codings.find(',');
          std::string_view coding = codings.substr(0, comma);
          codings =
              comma == std::string_view::npos ? std::string_view() : codings.substr(comma + 1);
          while (!coding.empty() && coding.front() == ' ') coding.remove_prefix(1);
          while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
          if (coding.empty() || iequals(coding, "aws-chunked")) continue;
          if (!kept.empty()) kept += ",";
          kept += coding;
        }
        if (kept.empty()) {
          it = headers.erase(it);
          continue;
        }
        it->second = kept;
      }
      ++it;
    }
    if (trailer && decoder.trailer_checksum_base64()) {
      const std::string_view name = s3proto::checksum_header_name(*trailer);
      if (!fake_s3::find_header(headers, name)) {
        headers.emplace_back(std::string(name), *decoder.trailer_checksum_base64());
      }
    }
  }
  core_request.body = std::move(body);
  for (const auto& domain : s.options.virtual_host_domains) {
    fake_s3::HttpRequest routed = fake_s3::virtual_host_to_path_style(core_request, domain);
    if (routed.target != core_request.target) {
      core_request = std::move(routed);
      break;
    }
  }

  fake_s3::Outcome outcome;
  TimeNs now = 0;
  std::uint64_t epoch = 0;
  {
    std::lock_guard lock(s.mutex);
    now = s.now_locked();
    if (s.admin_down_locked(now)) {
      net::Reply refused;
      refused.kind = net::Reply::Kind::close;
      return refused;
    }
    ++s.requests_to_core;
    outcome = s.faulty->handle(now, core_request);
    epoch = s.epoch_locked();
  }
  net::Reply reply;
  reply.delay = std::chrono::nanoseconds(outcome.added_latency_ns);
  switch (outcome.transport) {
    case fake_s3::Transport::response:
      reply.kind = net::Reply::Kind::respond;
      reply.response = to_net(std::move(outcome.response));
      reply.response.headers.emplace_back("Date", fake_s3::format_http_date(now, 0));
      reply.response.headers.emplace_back("Server", "AmazonS3");
      break;
    case fake_s3::Transport::refused:
      reply.kind = net::Reply::Kind::close;
      reply.delay = {};
      return reply;
    case fake_s3::Transport::reset:
      reply.kind = net::Reply::Kind::reset;
      break;
    case fake_s3::Transport::hang:
      reply.kind = net::Reply::Kind::hang;
      return reply;
  }
  if (reply.delay.count() > 0) {
    // A death during the latency catches the response in flight: the client sees a reset.
    reply.still_deliverable = [state = state_.get(), epoch] {
      std::lock_guard lock(state->mutex);
      const TimeNs at = state->now_locked();
      state->faulty->advance_to(at);
      return state->epoch_locked() == epoch && state->faulty->is_up() &&
             !state->admin_down_locked(at);
    };
  }
  return reply;
}

net::Response Service::protocol_error_response(net::ProtocolError error) {
  fake_s3::S3Error s3_error{400, "BadRequest", "The request could not be parsed as HTTP/1.1", ""};
  switch (error) {
    case net::ProtocolError::malformed:
      break;
    case net::ProtocolError::header_too_large:
      s3_error.code = "RequestHeaderSectionTooLarge";
      s3_error.message = "Your request header section exceeds the maximum allowed size.";
      break;
    case net::ProtocolError::body_too_large:
      s3_error.code = "EntityTooLarge";
      s3_error.message = "Your proposed upload exceeds the maximum allowed size";
      break;
  }
  return to_net(fake_s3::error_response(s3_error, state_->next_driver_request_id(), false));
}

net::Reply Service::State::admin(const net::RequestHead& head, const std::string& body) {
  // The admin root itself ("/_s3chaos", no slash) reaches here too: it names no operation.
  const std::string full_path = path_of(head.target);
  const std::string path =
      full_path.size() > admin_path_prefix.size() ? full_path.substr(admin_path_prefix.size()) : "";
  std::map<std::string, std::string> query;
  if (const auto question = head.target.find('?'); question != std::string::npos) {
    if (auto parsed =
            s3proto::parse_query_string(std::string_view(head.target).substr(question + 1))) {
      for (auto& [name, value] : *parsed) query[name] = value;
    } else {
      return net::Reply::respond_with(json_error(400, "malformed query string"));
    }
  }
  const std::string& method = head.method;
  const auto reply = [](net::Response response) {
    return net::Reply::respond_with(std::move(response));
  };
  if (path == "plan" && method == "GET") {
    std::lock_guard lock(mutex);
    return reply(json_response(200, json::parse(fake_s3::fault_plan_to_json(plan))));
  }
  if (path == "plan" && (method == "PUT" || method == "POST")) {
    fake_s3::FaultPlan new_plan;
    try {
      new_plan = fake_s3::parse_fault_plan(body);
    } catch (const std::exception& error) {
      return reply(json_error(400, std::string("fault plan: ") + error.what()));
    }
    std::lock_guard lock(mutex);
    const TimeNs now = now_locked();
    install_plan_locked(std::move(new_plan), now, now);
    return reply(json_response(200, json{{"replaced", true}, {"loaded_at_unix_ns", now}}));
  }
  if (path == "death" && method == "POST") {
    std::optional<TimeNs> down_ns;
    if (auto it = query.find("down_ms"); it != query.end()) {
      char* end = nullptr;
      const long long ms = std::strtoll(it->second.c_str(), &end, 10);
      if (it->second.empty() || *end != 0 || ms < 0 || ms > 7LL * 24 * 3600 * 1000) {
        return reply(json_error(400, "down_ms: expected milliseconds from 0 to 604800000"));
      }
      down_ns = sim::from_milliseconds(ms);
    }
    std::lock_guard lock(mutex);
    death_locked(down_ns);
    return reply(json_response(200, status_locked()));
  }
  if (path == "restart" && method == "POST") {
    std::lock_guard lock(mutex);
    restart_locked();
    return reply(json_response(200, status_locked()));
  }
  if (path == "truth" && method == "GET") {
    std::lock_guard lock(mutex);
    return reply(json_response(200, truth_locked()));
  }
  if (path == "status" && method == "GET") {
    std::lock_guard lock(mutex);
    return reply(json_response(200, status_locked()));
  }
  return reply(json_error(
      404, "unknown admin operation " + method + " " + std::string(admin_path_prefix) + path));
}

void Service::replace_plan(fake_s3::FaultPlan plan) {
  std::lock_guard lock(state_->mutex);
  const TimeNs now = state_->now_locked();
  state_->install_plan_locked(std::move(plan), now, now);
}

void Service::trigger_death(std::optional<TimeNs> down_ns) {
  std::lock_guard lock(state_->mutex);
  state_->death_locked(down_ns);
}

void Service::restart() {
  std::lock_guard lock(state_->mutex);
  state_->restart_locked();
}

fake_s3::TruthView Service::truth() const {
  std::lock_guard lock(state_->mutex);
  return state_->faulty->truth();
}

std::string Service::truth_json() const {
  std::lock_guard lock(state_->mutex);
  return state_->truth_locked().dump(2, ' ', false, json::error_handler_t::replace);
}

std::string Service::status_json() const {
  std::lock_guard lock(state_->mutex);
  return state_->status_locked().dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace s3chaos::fake_s3_server
