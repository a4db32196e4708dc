// Runs independent simulated runs side by side in child processes (`explore --jobs J`).
//
// Why processes, not threads: a simulated run is deterministic only while nothing else touches
// its process-wide state, and SQLite keeps some (its PRNG, which seeds journal nonces, and the
// VFS registry). A forked child has its own copy of all of it, so each run gives the same
// trace hash whether it ran alone, in a child, or beside other children.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

#include <nlohmann/json.hpp>

namespace s3chaos::harness {

// Jobs at most (children alive at once): far above any machine this runs on, low enough that a
// typo cannot fork-bomb it.
inline constexpr unsigned parallel_jobs_max = 256;

// A child that died without handing back its result (an assertion fired, a signal).
class ParallelRunError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Calls job(index) for every index in `indices` and hands each result to on_result in the order
// of `indices`, never out of order. With jobs <= 1 everything runs in this process, one after
// the other. With jobs > 1, `jobs` worker processes are forked once and each runs job after
// job, at most a few runs ahead of the caller; once on_result returns false no further job
// starts and the workers are killed (results past it are dropped, so the caller sees exactly
// the prefix it asked for). A job that throws or a worker that dies without a result throws
// ParallelRunError naming the index. A job must leave no state behind that changes the next
// job's result (a simulated run seeds everything it draws from). Flushes stdout and stderr
// before each fork.
void run_in_order(const std::vector<std::uint64_t>& indices, unsigned jobs,
                  const std::function<nlohmann::json(std::uint64_t index)>& job,
                  const std::function<bool(std::uint64_t index, const nlohmann::json&)>& on_result);

}  // namespace s3chaos::harness
