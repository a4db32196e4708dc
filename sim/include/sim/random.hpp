// Seeded randomness with named, independent streams.
//
// Every random choice in a simulated run comes from a RandomStream. A stream is derived from
// the run's root seed and a name ("fake_s3.faults", "uploader.backoff", ...), so each component
// draws from its own stream: adding a new consumer, or changing how many numbers one consumer
// draws, never shifts the draws of any other stream. The generator is xoshiro256**, seeded
// through SplitMix64 from a 64-bit hash of (root seed, name).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace s3chaos::sim {

class RandomStream {
 public:
  // A stream seeded directly. Prefer RandomStream::named or SeedTree::stream.
  explicit RandomStream(std::uint64_t stream_seed) noexcept;

  // The stream called `name` under `root_seed`. Same (root_seed, name), same draws, always.
  static RandomStream named(std::uint64_t root_seed, std::string_view name) noexcept;

  // A stream derived from this stream's seed and `name`, independent of this stream's draws
  // so far: splitting does not consume numbers from the parent.
  RandomStream split(std::string_view name) const noexcept;

  std::uint64_t seed() const noexcept { return stream_seed_; }

  // Uniform over all 64-bit values.
  std::uint64_t next_u64() noexcept;
  // Uniform over [0, bound). bound must be positive. Unbiased (Lemire's method).
  std::uint64_t below(std::uint64_t bound) noexcept;
  // Uniform over the closed range [low, high]. Requires low <= high.
  std::int64_t between(std::int64_t low, std::int64_t high) noexcept;
  // Uniform over [0, 1) with 53 bits of precision.
  double uniform01() noexcept;
  // True with probability p (p outside [0, 1] is clamped).
  bool chance(double p) noexcept;
  // Exponentially distributed with the given mean (for Poisson arrivals).
  double exponential(double mean) noexcept;
  // Log-normally distributed with the given median and shape sigma (latency tails).
  double log_normal(double median, double sigma) noexcept;

 private:
  std::uint64_t stream_seed_;
  std::array<std::uint64_t, 4> state_;
};

// A stable 64-bit hash of a byte string (FNV-1a followed by a SplitMix64 finaliser). Used to
// derive stream seeds from names; stable across machines, compilers and runs.
std::uint64_t stable_hash64(std::string_view bytes, std::uint64_t salt = 0) noexcept;

}  // namespace s3chaos::sim
