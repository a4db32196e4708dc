// Proves run_in_order's contract (explore --jobs): results reach the caller in the order of the
// indices whatever order the children finish in, nothing past a refused result is handed on,
// and a job that throws or a child that dies is an error naming the run, never a lost result.
#include "harness/parallel.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

namespace s3chaos::harness {
namespace {

std::vector<std::uint64_t> indices_up_to(std::uint64_t count) {
  std::vector<std::uint64_t> indices;
  for (std::uint64_t i = 0; i < count; ++i) indices.push_back(i * 3 + 1);
  return indices;
}

TEST(Parallel, ResultsArriveInIndexOrderWhateverOrderChildrenFinish) {
  for (const unsigned jobs : {1u, 2u, 4u}) {
    std::vector<std::uint64_t> seen;
    run_in_order(
        indices_up_to(12), jobs,
        [](std::uint64_t index) {
          // Earlier indices take longer, so children finish out of order.
          ::usleep(static_cast<useconds_t>((40 - index) * 300));
          return nlohmann::json{{"square", index * index}, {"pid", ::getpid()}};
        },
        [&](std::uint64_t index, const nlohmann::json& result) {
          EXPECT_EQ(result["square"].get<std::uint64_t>(), index * index);
          if (jobs > 1) {
            EXPECT_NE(result["pid"].get<int>(), ::getpid()) << "ran in a child";
          }
          seen.push_back(index);
          return true;
        });
    EXPECT_EQ(seen, indices_up_to(12)) << "jobs " << jobs;
  }
}

TEST(Parallel, StopsAtTheFirstRefusedResult) {
  for (const unsigned jobs : {1u, 3u}) {
    std::vector<std::uint64_t> seen;
    run_in_order(
        indices_up_to(20), jobs, [](std::uint64_t index) { return nlohmann::json(index); },
        [&](std::uint64_t index, const nlohmann::json&) {
          seen.push_back(index);
          return index != 7;  // the third index
        });
    EXPECT_EQ(seen, (std::vector<std::uint64_t>{1, 4, 7})) << "jobs " << jobs;
  }
}

TEST(Parallel, AJobThatThrowsIsAnErrorNamingItsRun) {
  const auto job = [](std::uint64_t index) -> nlohmann::json {
    if (index == 4) throw std::runtime_error("broken run");
    return index;
  };
  try {
    run_in_order(indices_up_to(5), 2, job,
                 [](std::uint64_t, const nlohmann::json&) { return true; });
    FAIL() << "no error";
  } catch (const ParallelRunError& error) {
    EXPECT_NE(std::string(error.what()).find("run 4 failed: broken run"), std::string::npos)
        << error.what();
  }
}

TEST(Parallel, AChildThatDiesIsAnErrorNamingItsRunAndSignal) {
  const auto job = [](std::uint64_t index) -> nlohmann::json {
    if (index == 7) std::_Exit(9);  // as an assertion's abort would: no result handed back
    return index;
  };
  std::vector<std::uint64_t> seen;
  try {
    run_in_order(indices_up_to(5), 2, job, [&](std::uint64_t index, const nlohmann::json&) {
      seen.push_back(index);
      return true;
    });
    FAIL() << "no error";
  } catch (const ParallelRunError& error) {
    EXPECT_NE(std::string(error.what()).find("run 7 exited with status 9"), std::string::npos)
        << error.what();
  }
  // Results before the dead run may have been handed on; none after it.
  for (const std::uint64_t index : seen) EXPECT_LT(index, 7u);
}

}  // namespace
}  // namespace s3chaos::harness
