#include "sim/assert.hpp"

namespace s3chaos::sim {
namespace {
thread_local unsigned long long current_seed_value = 0;
}

void set_current_seed(unsigned long long seed) noexcept {
  current_seed_value = seed;
}
unsigned long long current_seed() noexcept {
  return current_seed_value;
}

void assertion_failed(const char* condition, const char* file, int line,
                      const char* message) noexcept {
  std::fprintf(stderr, "s3chaos: assertion failed: %s at %s:%d%s%s (seed %llu)\n", condition, file,
               line, message ? ": " : "", message ? message : "", current_seed_value);
  std::fflush(stderr);
  std::abort();
}

}  // namespace s3chaos::sim
