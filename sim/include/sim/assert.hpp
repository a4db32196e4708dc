// Assertions that stay on in every build, optimised or not (TIGER_STYLE): a violated
// invariant in a simulation is a bug found, so it prints where and what, then aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace s3chaos::sim {

// Called by S3CHAOS_ASSERT on failure. Prints the failed condition, the location and the
// seed of the run in progress (if a simulation registered one), then aborts.
[[noreturn]] void assertion_failed(const char* condition, const char* file, int line,
                                   const char* message) noexcept;

// The seed of the simulation currently running on this thread, printed by a failed
// assertion so the run can be replayed. Zero when no simulation is running.
void set_current_seed(unsigned long long seed) noexcept;
unsigned long long current_seed() noexcept;

}  // namespace s3chaos::sim

#define S3CHAOS_ASSERT(condition)                                                \
  do {                                                                           \
    if (!(condition)) [[unlikely]]                                               \
      ::s3chaos::sim::assertion_failed(#condition, __FILE__, __LINE__, nullptr); \
  } while (0)

#define S3CHAOS_ASSERT_MSG(condition, message)                                     \
  do {                                                                             \
    if (!(condition)) [[unlikely]]                                                 \
      ::s3chaos::sim::assertion_failed(#condition, __FILE__, __LINE__, (message)); \
  } while (0)
