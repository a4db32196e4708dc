// Simulated time. One clock for the whole simulation: a signed count of nanoseconds since the
// start of the run. Never the wall clock: a simulated run must not depend on how fast it runs.
#pragma once

#include <cstdint>

namespace s3chaos::sim {

// A point in simulated time or a duration, in nanoseconds.
using TimeNs = std::int64_t;

inline constexpr TimeNs nanoseconds_per_microsecond = 1'000;
inline constexpr TimeNs nanoseconds_per_millisecond = 1'000'000;
inline constexpr TimeNs nanoseconds_per_second = 1'000'000'000;

constexpr TimeNs from_microseconds(std::int64_t us) {
  return us * nanoseconds_per_microsecond;
}
constexpr TimeNs from_milliseconds(std::int64_t ms) {
  return ms * nanoseconds_per_millisecond;
}
constexpr TimeNs from_seconds(std::int64_t s) {
  return s * nanoseconds_per_second;
}
constexpr double to_seconds(TimeNs t) {
  return static_cast<double>(t) / nanoseconds_per_second;
}

}  // namespace s3chaos::sim
