#include "sim/trace.hpp"

#include <openssl/evp.h>

#include <bit>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <ostream>

#include "sim/assert.hpp"

namespace s3chaos::sim {
namespace {

// Encoded records are collected up to this size before SHA-256 sees them: one EVP call per
// block instead of per record.
constexpr std::size_t hash_block_bytes = 4096;

// The encoding copies integers as they lie in memory: a few memcpy calls instead of a push_back
// per byte, since it is on every record's path. A big-endian host would need byte swaps here.
static_assert(std::endian::native == std::endian::little, "trace encoding assumes little-endian");

// Appends `value` little-endian.
template <typename Integer>
char* put_le(char* out, Integer value) {
  std::memcpy(out, &value, sizeof value);
  return out + sizeof value;
}

char* put_bytes(char* out, std::string_view bytes) {
  out = put_le(out, static_cast<std::uint32_t>(bytes.size()));
  // An empty string_view may hold a null pointer, which memcpy must not be given.
  if (!bytes.empty()) std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
}

// The canonical encoding (docs/sim.md): little-endian, every string length-prefixed, so the
// concatenation of encodings is unambiguous.
void encode_into(std::string& out, TimeNs time, std::string_view component, std::string_view kind,
                 const std::int64_t* numbers, std::size_t numbers_count, std::string_view detail) {
  const std::size_t size = sizeof(std::int64_t) + 4 * sizeof(std::uint32_t) + component.size() +
                           kind.size() + numbers_count * sizeof(std::int64_t) + detail.size();
  const std::size_t start = out.size();
  out.resize(start + size);
  char* cursor = out.data() + start;
  cursor = put_le(cursor, static_cast<std::int64_t>(time));
  cursor = put_bytes(cursor, component);
  cursor = put_bytes(cursor, kind);
  cursor = put_le(cursor, static_cast<std::uint32_t>(numbers_count));
  for (std::size_t i = 0; i < numbers_count; ++i) cursor = put_le(cursor, numbers[i]);
  cursor = put_bytes(cursor, detail);
  S3CHAOS_ASSERT(cursor == out.data() + out.size());
}

struct ContextDeleter {
  void operator()(EVP_MD_CTX* context) const noexcept { EVP_MD_CTX_free(context); }
};
using Context = std::unique_ptr<EVP_MD_CTX, ContextDeleter>;

}  // namespace

struct Trace::DigestState {
  Context context{EVP_MD_CTX_new()};
  std::string pending;
};

std::string TraceHash::hex() const {
  static constexpr char digits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const std::uint8_t byte : bytes) {
    text.push_back(digits[byte >> 4]);
    text.push_back(digits[byte & 0xf]);
  }
  return text;
}

Trace::Trace(std::size_t records_kept_max)
    : digest_(std::make_unique<DigestState>()), records_kept_max_(records_kept_max) {
  S3CHAOS_ASSERT(digest_->context != nullptr);
  S3CHAOS_ASSERT(EVP_DigestInit_ex(digest_->context.get(), EVP_sha256(), nullptr) == 1);
  digest_->pending.reserve(hash_block_bytes + trace_detail_bytes_max + 512);
}

Trace::~Trace() = default;
Trace::Trace(Trace&&) noexcept = default;
Trace& Trace::operator=(Trace&&) noexcept = default;

void Trace::record(TimeNs time, std::string_view component, std::string_view kind,
                   std::initializer_list<std::int64_t> numbers, std::string_view detail) {
  S3CHAOS_ASSERT_MSG(time >= last_time_, "trace time went backwards");
  S3CHAOS_ASSERT(component.size() <= trace_name_bytes_max);
  S3CHAOS_ASSERT(kind.size() <= trace_name_bytes_max);
  S3CHAOS_ASSERT(numbers.size() <= trace_numbers_max);
  S3CHAOS_ASSERT(detail.size() <= trace_detail_bytes_max);
  last_time_ = time;
  ++records_count_;

  std::string& pending = digest_->pending;
  encode_into(pending, time, component, kind, numbers.begin(), numbers.size(), detail);
  if (pending.size() >= hash_block_bytes) flush_pending();

  if (records_kept_max_ == 0) return;
  if (kept_.size() == records_kept_max_) kept_.pop_front();
  TraceRecord& kept = kept_.emplace_back();
  kept.time = time;
  kept.component = component;
  kept.kind = kind;
  std::copy(numbers.begin(), numbers.end(), kept.numbers.begin());
  kept.numbers_count = static_cast<std::uint8_t>(numbers.size());
  kept.detail = detail;
}

void Trace::flush_pending() const {
  std::string& pending = digest_->pending;
  if (pending.empty()) return;
  S3CHAOS_ASSERT(EVP_DigestUpdate(digest_->context.get(), pending.data(), pending.size()) == 1);
  pending.clear();
}

TraceHash Trace::hash() const {
  flush_pending();
  // Finalise a copy, so the running hash goes on.
  Context copy{EVP_MD_CTX_new()};
  S3CHAOS_ASSERT(copy != nullptr);
  S3CHAOS_ASSERT(EVP_MD_CTX_copy_ex(copy.get(), digest_->context.get()) == 1);
  TraceHash hash;
  unsigned int length = 0;
  S3CHAOS_ASSERT(EVP_DigestFinal_ex(copy.get(), hash.bytes.data(), &length) == 1);
  S3CHAOS_ASSERT(length == hash.bytes.size());
  return hash;
}

std::string Trace::encode(const TraceRecord& record) {
  std::string out;
  encode_into(out, record.time, record.component, record.kind, record.numbers.data(),
              record.numbers_count, record.detail);
  return out;
}

void Trace::write_text(std::ostream& out) const {
  char time_text[32];
  for (const TraceRecord& record : kept_) {
    std::snprintf(time_text, sizeof time_text, "%lld.%09lld",
                  static_cast<long long>(record.time / nanoseconds_per_second),
                  static_cast<long long>(record.time % nanoseconds_per_second));
    out << time_text << ' ' << record.component << ' ' << record.kind;
    for (std::size_t i = 0; i < record.numbers_count; ++i) out << ' ' << record.numbers[i];
    if (!record.detail.empty()) out << " | " << record.detail;
    out << '\n';
  }
}

void Trace::write_json_lines(std::ostream& out) const {
  for (const TraceRecord& record : kept_) {
    nlohmann::ordered_json line = {
        {"time_ns", record.time},
        {"component", record.component},
        {"kind", record.kind},
        {"numbers", std::vector<std::int64_t>(record.numbers.begin(),
                                              record.numbers.begin() + record.numbers_count)},
        {"detail", record.detail},
    };
    // Invalid UTF-8 in a detail is replaced rather than thrown on: a dump is for people.
    out << line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
  }
}

}  // namespace s3chaos::sim
