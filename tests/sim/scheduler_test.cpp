// Proves the scheduler's contract: events run in (time, schedule order), cancel removes exactly
// the event named, run loops stop at their bounds, the clock never goes backwards, callbacks of
// every size are run or destroyed exactly once; and a RapidCheck property compares random
// schedule/cancel/step/run_until sequences against a model that sorts by (time, sequence).
#include "sim/scheduler.hpp"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "property_cases.hpp"

namespace s3chaos::sim {
namespace {

TEST(Scheduler, RunsEventsInTimeOrder) {
  Scheduler scheduler;
  std::vector<int> order;
  scheduler.schedule_at(30, [&] { order.push_back(30); });
  scheduler.schedule_at(10, [&] { order.push_back(10); });
  scheduler.schedule_after(20, [&] { order.push_back(20); });
  const RunResult result = scheduler.run(100);
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(result.events_run, 3u);
  EXPECT_EQ(result.reason, StopReason::queue_empty);
  EXPECT_EQ(scheduler.now(), 30);
  EXPECT_EQ(scheduler.events_run(), 3u);
}

TEST(Scheduler, EqualTimesRunInScheduleOrderIncludingEventsScheduledWhileRunning) {
  Scheduler scheduler;
  std::vector<std::string> order;
  scheduler.schedule_at(5, [&] {
    order.push_back("first");
    // Scheduled at now(): runs after everything already queued for time 5.
    scheduler.schedule_at(5, [&] { order.push_back("nested"); });
  });
  for (int i = 0; i < 3; ++i) {
    scheduler.schedule_at(5, [&order, i] { order.push_back("second" + std::to_string(i)); });
  }
  scheduler.run(100);
  EXPECT_EQ(order, (std::vector<std::string>{"first", "second0", "second1", "second2", "nested"}));
}

TEST(Scheduler, CancelRemovesOnlyThatEventAndDestroysItsCallbackAtOnce) {
  Scheduler scheduler;
  auto token = std::make_shared<int>(0);
  std::vector<int> order;
  const EventId kept = scheduler.schedule_at(1, [&] { order.push_back(1); });
  const EventId cancelled = scheduler.schedule_at(2, [&order, token] { order.push_back(2); });
  scheduler.schedule_at(3, [&] { order.push_back(3); });
  EXPECT_EQ(token.use_count(), 2);
  EXPECT_TRUE(scheduler.pending(cancelled));
  EXPECT_TRUE(scheduler.cancel(cancelled));
  EXPECT_EQ(token.use_count(), 1);
  EXPECT_FALSE(scheduler.pending(cancelled));
  EXPECT_FALSE(scheduler.cancel(cancelled));
  EXPECT_EQ(scheduler.pending_count(), 2u);
  scheduler.run(100);
  EXPECT_EQ(order, (std::vector<int>{1, 3}));
  EXPECT_FALSE(scheduler.cancel(kept));  // Already ran.
  EXPECT_FALSE(scheduler.cancel(EventId{}));
  EXPECT_FALSE(scheduler.cancel(EventId{123456789}));
}

TEST(Scheduler, ACallbackCannotCancelItselfButCanCancelOthers) {
  Scheduler scheduler;
  EventId self;
  EventId other;
  bool cancelled_self = true;
  bool cancelled_other = false;
  bool other_ran = false;
  self = scheduler.schedule_at(1, [&] {
    cancelled_self = scheduler.cancel(self);
    cancelled_other = scheduler.cancel(other);
  });
  other = scheduler.schedule_at(1, [&] { other_ran = true; });
  scheduler.run(100);
  EXPECT_FALSE(cancelled_self);
  EXPECT_TRUE(cancelled_other);
  EXPECT_FALSE(other_ran);
}

TEST(Scheduler, SlotsOfRunAndCancelledEventsAreReusedWithoutConfusingIds) {
  // An id names one event forever: after its slot is reused, the old id cancels nothing.
  Scheduler scheduler;
  int runs = 0;
  const EventId old_id = scheduler.schedule_at(1, [&] { ++runs; });
  scheduler.run(10);
  const EventId new_id = scheduler.schedule_at(2, [&] { ++runs; });
  EXPECT_NE(old_id, new_id);
  EXPECT_FALSE(scheduler.cancel(old_id));
  EXPECT_TRUE(scheduler.pending(new_id));
  scheduler.run(10);
  EXPECT_EQ(runs, 2);
}

TEST(Scheduler, RunUntilRunsEventsAtOrBeforeTheTargetAndMovesTheClockThere) {
  Scheduler scheduler;
  std::vector<TimeNs> times;
  for (TimeNs t : {10, 20, 20, 30}) scheduler.schedule_at(t, [&times, t] { times.push_back(t); });
  RunResult result = scheduler.run_until(20, 100);
  EXPECT_EQ(times, (std::vector<TimeNs>{10, 20, 20}));
  EXPECT_EQ(result.reason, StopReason::time_reached);
  EXPECT_EQ(result.events_run, 3u);
  EXPECT_EQ(scheduler.now(), 20);
  result = scheduler.run_until(25, 100);
  EXPECT_EQ(result.events_run, 0u);
  EXPECT_EQ(scheduler.now(), 25);
  EXPECT_EQ(scheduler.next_event_time(), 30);
  // An empty queue still moves the clock.
  scheduler.run(100);
  scheduler.run_until(1000, 100);
  EXPECT_EQ(scheduler.now(), 1000);
}

TEST(Scheduler, RunLoopsStopAtTheirEventBound) {
  // An event that reschedules itself forever: only the bound stops the loop.
  Scheduler scheduler;
  std::uint64_t ticks = 0;
  struct Ticker {
    Scheduler* scheduler;
    std::uint64_t* ticks;
    void operator()() const {
      ++*ticks;
      scheduler->schedule_after(7, *this);
    }
  };
  scheduler.schedule_at(0, Ticker{&scheduler, &ticks});
  RunResult result = scheduler.run(1000);
  EXPECT_EQ(result.reason, StopReason::event_limit);
  EXPECT_EQ(result.events_run, 1000u);
  EXPECT_EQ(ticks, 1000u);
  EXPECT_EQ(scheduler.now(), 999 * 7);
  result = scheduler.run_until(from_seconds(1), 10);
  EXPECT_EQ(result.reason, StopReason::event_limit);
  EXPECT_EQ(result.events_run, 10u);
  EXPECT_EQ(scheduler.now(), 1009 * 7);  // Not moved to the target: the bound stopped it first.
  EXPECT_EQ(scheduler.run(0).reason, StopReason::event_limit);
}

TEST(Scheduler, RequestStopEndsTheRunAfterTheCurrentEvent) {
  Scheduler scheduler;
  int ran = 0;
  scheduler.schedule_at(1, [&] { ++ran; });
  scheduler.schedule_at(2, [&] {
    ++ran;
    scheduler.request_stop();
  });
  scheduler.schedule_at(3, [&] { ++ran; });
  RunResult result = scheduler.run(100);
  EXPECT_EQ(result.reason, StopReason::stop_requested);
  EXPECT_EQ(result.events_run, 2u);
  EXPECT_EQ(ran, 2);
  // The request was consumed: the next run goes on.
  result = scheduler.run(100);
  EXPECT_EQ(result.reason, StopReason::queue_empty);
  EXPECT_EQ(ran, 3);
  // A request made outside a run stops the next one before any event.
  scheduler.schedule_at(4, [&] { ++ran; });
  scheduler.request_stop();
  EXPECT_EQ(scheduler.run_until(10, 100).reason, StopReason::stop_requested);
  EXPECT_EQ(ran, 3);
}

TEST(Scheduler, StepRunsOneEventAtATime) {
  Scheduler scheduler;
  int ran = 0;
  scheduler.schedule_at(4, [&] { ++ran; });
  scheduler.schedule_at(9, [&] { ++ran; });
  EXPECT_TRUE(scheduler.step());
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(scheduler.now(), 4);
  EXPECT_TRUE(scheduler.step());
  EXPECT_FALSE(scheduler.step());
  EXPECT_EQ(scheduler.now(), 9);
}

TEST(Scheduler, CallbacksOfEverySizeRunOnceAndAreDestroyedOnce) {
  // Inline (small), boxed (large) and move-only callbacks; the ones still pending when the
  // scheduler dies are destroyed with it (AddressSanitizer would report a leak otherwise).
  auto token = std::make_shared<int>(0);
  int sum = 0;
  {
    Scheduler scheduler;
    std::array<char, 200> big{};
    big[7] = 5;
    scheduler.schedule_at(1, [&sum, token] { sum += 1; });
    scheduler.schedule_at(2, [&sum, token, big] { sum += big[7]; });
    scheduler.schedule_at(3, [&sum, owned = std::make_unique<int>(100)] { sum += *owned; });
    scheduler.schedule_at(50, [token] {});
    scheduler.schedule_at(60, [token, big] {});
    EXPECT_EQ(token.use_count(), 5);
    scheduler.run_until(10, 100);
    EXPECT_EQ(sum, 106);
    EXPECT_EQ(token.use_count(), 3);
  }
  EXPECT_EQ(token.use_count(), 1);
}

TEST(Scheduler, CompactionAfterManyCancelsKeepsTheOrder) {
  // Cancelling most of a large queue triggers compaction; the survivors still run in order.
  Scheduler scheduler;
  std::vector<EventId> ids;
  std::vector<int> order;
  for (int i = 0; i < 10000; ++i) {
    ids.push_back(scheduler.schedule_at((i * 7919) % 1000, [&order, i] { order.push_back(i); }));
  }
  for (int i = 0; i < 10000; ++i) {
    if (i % 10 != 3) {
      EXPECT_TRUE(scheduler.cancel(ids[i]));
    }
  }
  EXPECT_EQ(scheduler.pending_count(), 1000u);
  scheduler.run(100000);
  ASSERT_EQ(order.size(), 1000u);
  for (std::size_t k = 1; k < order.size(); ++k) {
    const int a = order[k - 1];
    const int b = order[k];
    EXPECT_TRUE((a * 7919) % 1000 < (b * 7919) % 1000 ||
                ((a * 7919) % 1000 == (b * 7919) % 1000 && a < b));
  }
}

TEST(SchedulerDeathTest, SchedulingInThePastIsABug) {
  Scheduler scheduler;
  scheduler.run_until(100, 10);
  EXPECT_DEATH(scheduler.schedule_at(99, [] {}), "scheduling in the past");
  EXPECT_DEATH(scheduler.schedule_after(-1, [] {}), "negative delay");
  EXPECT_DEATH(scheduler.run_until(50, 10), "into the past");
}

// The model: every scheduled event with its time, its sequence number (schedule order) and
// whether it is still pending; the next event is the pending one with the least (time, seq).
struct ModelEvent {
  TimeNs time;
  int child_delay;  // When >= 0, running the event schedules a child after this delay.
  bool pending;
};

struct Model {
  std::vector<ModelEvent> events;
  TimeNs now = 0;
  std::vector<int> log;

  int next() const {
    int best = -1;
    for (int i = 0; i < static_cast<int>(events.size()); ++i) {
      if (!events[i].pending) continue;
      if (best < 0 || events[i].time < events[best].time) best = i;  // Ties: lower index.
    }
    return best;
  }
  void run(int index) {
    events[index].pending = false;
    now = events[index].time;
    log.push_back(index);
    if (events[index].child_delay >= 0)
      events.push_back({now + events[index].child_delay, -1, true});
  }
};

// The real scheduler, logging the model index of each event it runs.
struct Real {
  Scheduler scheduler;
  std::vector<EventId> ids;
  std::vector<int> log;

  void schedule(TimeNs time, int child_delay) {
    const int index = static_cast<int>(ids.size());
    ids.push_back({});
    ids[index] = scheduler.schedule_at(time, [this, index, child_delay] {
      log.push_back(index);
      if (child_delay >= 0) schedule(scheduler.now() + child_delay, -1);
    });
  }
};

TEST(SchedulerProperty, MatchesASortByTimeThenSequenceModel) {
  enum Op { schedule_op, cancel_op, step_op, run_until_op };
  s3chaos::test::check_property(
      [] {
        // Small delays so that equal times are common.
        const auto ops = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(rc::gen::tuple(
            rc::gen::inRange(0, 4), rc::gen::inRange(0, 12), rc::gen::inRange(-1, 6)));
        Model model;
        Real real;
        for (const auto& [op, a, b] : ops) {
          switch (op) {
            case schedule_op:
              model.events.push_back({model.now + a, b, true});
              real.schedule(real.scheduler.now() + a, b);
              break;
            case cancel_op: {
              if (model.events.empty()) break;
              const int index = a % static_cast<int>(model.events.size());
              const bool expected = model.events[index].pending;
              model.events[index].pending = false;
              RC_ASSERT(real.scheduler.cancel(real.ids[index]) == expected);
              break;
            }
            case step_op: {
              const int index = model.next();
              if (index >= 0) model.run(index);
              RC_ASSERT(real.scheduler.step() == (index >= 0));
              break;
            }
            case run_until_op: {
              const TimeNs target = model.now + a;
              for (int index = model.next(); index >= 0 && model.events[index].time <= target;
                   index = model.next()) {
                model.run(index);
              }
              model.now = target;
              real.scheduler.run_until(target, 1000);
              break;
            }
          }
          RC_ASSERT(real.log == model.log);
          RC_ASSERT(real.scheduler.now() == model.now);
          const auto pending = static_cast<std::size_t>(
              std::count_if(model.events.begin(), model.events.end(),
                            [](const ModelEvent& e) { return e.pending; }));
          RC_ASSERT(real.scheduler.pending_count() == pending);
        }
        // Drain both: the whole order must agree.
        for (int index = model.next(); index >= 0; index = model.next()) model.run(index);
        real.scheduler.run(100000);
        RC_ASSERT(real.log == model.log);
      },
      1000);
}

}  // namespace
}  // namespace s3chaos::sim
