// Proves that named random streams are reproducible and independent: the same (seed, name)
// always gives the same draws, and adding a consumer (a new stream, or more draws from one
// stream) never changes what any other stream draws.
#include "sim/random.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <vector>

namespace s3chaos::sim {
namespace {

std::vector<std::uint64_t> draw(RandomStream stream, int count) {
  std::vector<std::uint64_t> values;
  for (int i = 0; i < count; ++i) values.push_back(stream.next_u64());
  return values;
}

TEST(RandomStream, SameSeedAndNameGiveSameDraws) {
  EXPECT_EQ(draw(RandomStream::named(42, "fake_s3.faults"), 100),
            draw(RandomStream::named(42, "fake_s3.faults"), 100));
}

TEST(RandomStream, DifferentNamesOrSeedsGiveDifferentDraws) {
  EXPECT_NE(draw(RandomStream::named(42, "a"), 4), draw(RandomStream::named(42, "b"), 4));
  EXPECT_NE(draw(RandomStream::named(42, "a"), 4), draw(RandomStream::named(43, "a"), 4));
}

// A run with one consumer and a run where a second consumer is interleaved give the first
// consumer identical draws.
TEST(RandomStream, AddingAConsumerDoesNotShiftOtherStreams) {
  RandomStream alone = RandomStream::named(7, "uploader.backoff");
  std::vector<std::uint64_t> expected = draw(alone, 50);

  RandomStream first = RandomStream::named(7, "uploader.backoff");
  RandomStream newcomer = RandomStream::named(7, "workload.arrivals");
  std::vector<std::uint64_t> interleaved;
  for (int i = 0; i < 50; ++i) {
    newcomer.next_u64();
    newcomer.next_u64();
    interleaved.push_back(first.next_u64());
  }
  EXPECT_EQ(expected, interleaved);
}

TEST(RandomStream, SplitDoesNotConsumeParentDraws) {
  RandomStream parent = RandomStream::named(1, "parent");
  RandomStream untouched = RandomStream::named(1, "parent");
  RandomStream child = parent.split("child");
  EXPECT_EQ(draw(parent, 10), draw(untouched, 10));
  EXPECT_NE(draw(child, 10), draw(RandomStream::named(1, "parent"), 10));
}

RC_GTEST_PROP(RandomStream, BelowStaysInRange, (std::uint64_t seed, std::uint64_t bound)) {
  RC_PRE(bound > 0u);
  RandomStream stream(seed);
  for (int i = 0; i < 100; ++i) RC_ASSERT(stream.below(bound) < bound);
}

RC_GTEST_PROP(RandomStream, BetweenIsInclusive, (std::uint64_t seed, int low, int span)) {
  RC_PRE(span >= 0);
  RandomStream stream(seed);
  const std::int64_t high = static_cast<std::int64_t>(low) + span;
  for (int i = 0; i < 100; ++i) {
    const std::int64_t v = stream.between(low, high);
    RC_ASSERT(v >= low);
    RC_ASSERT(v <= high);
  }
}

TEST(RandomStream, Uniform01MeanIsAboutOneHalf) {
  RandomStream stream = RandomStream::named(99, "mean");
  double sum = 0;
  const int count = 100000;
  for (int i = 0; i < count; ++i) {
    const double u = stream.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / count, 0.5, 0.01);
}

}  // namespace
}  // namespace s3chaos::sim
