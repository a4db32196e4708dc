#include "sim/random.hpp"

#include <cmath>

#include "sim/assert.hpp"

namespace s3chaos::sim {
namespace {

std::uint64_t splitmix64(std::uint64_t& x) noexcept {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::uint64_t rotl(std::uint64_t x, int k) noexcept {
  return (x << k) | (x >> (64 - k));
}

constexpr double pi = 3.14159265358979323846;

}  // namespace

std::uint64_t stable_hash64(std::string_view bytes, std::uint64_t salt) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ salt;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return splitmix64(h);
}

RandomStream::RandomStream(std::uint64_t stream_seed) noexcept : stream_seed_(stream_seed) {
  std::uint64_t x = stream_seed;
  for (auto& word : state_) word = splitmix64(x);
}

RandomStream RandomStream::named(std::uint64_t root_seed, std::string_view name) noexcept {
  return RandomStream(stable_hash64(name, root_seed * 0x9e3779b97f4a7c15ULL + 1));
}

RandomStream RandomStream::split(std::string_view name) const noexcept {
  return RandomStream::named(stream_seed_, name);
}

std::uint64_t RandomStream::next_u64() noexcept {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

std::uint64_t RandomStream::below(std::uint64_t bound) noexcept {
  S3CHAOS_ASSERT(bound > 0);
  unsigned __int128 product = static_cast<unsigned __int128>(next_u64()) * bound;
  auto low = static_cast<std::uint64_t>(product);
  if (low < bound) {
    const std::uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      product = static_cast<unsigned __int128>(next_u64()) * bound;
      low = static_cast<std::uint64_t>(product);
    }
  }
  return static_cast<std::uint64_t>(product >> 64);
}

std::int64_t RandomStream::between(std::int64_t low, std::int64_t high) noexcept {
  S3CHAOS_ASSERT(low <= high);
  const auto span = static_cast<std::uint64_t>(high) - static_cast<std::uint64_t>(low);
  if (span == UINT64_MAX) return static_cast<std::int64_t>(next_u64());
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(low) + below(span + 1));
}

double RandomStream::uniform01() noexcept {
  return static_cast<double>(next_u64() >> 11) * 0x1.0p-53;
}

bool RandomStream::chance(double p) noexcept {
  if (p <= 0.0) return false;
  if (p >= 1.0) return true;
  return uniform01() < p;
}

double RandomStream::exponential(double mean) noexcept {
  // 1 - u lies in (0, 1], so the logarithm is finite.
  return -mean * std::log(1.0 - uniform01());
}

double RandomStream::log_normal(double median, double sigma) noexcept {
  // Box-Muller with one normal draw per call, so the number of draws per call is fixed.
  const double u1 = 1.0 - uniform01();
  const double u2 = uniform01();
  const double normal = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * pi * u2);
  return median * std::exp(sigma * normal);
}

}  // namespace s3chaos::sim
