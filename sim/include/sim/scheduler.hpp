// The simulation's event scheduler: one virtual clock and one queue of timed callbacks.
//
// Guarantees (docs/sim.md):
// - Events run in order of (time, sequence number): earlier time first, and among events at
//   the same time, the one scheduled first runs first (FIFO). The sequence number is a counter
//   of schedule calls, so the order never depends on pointers, hashing or the heap's layout.
// - The clock never goes backwards. Scheduling at a time before now() is a bug in the caller
//   and fails an assertion (it is not clamped: a silent clamp would hide the bug).
// - Every run loop takes an explicit bound on the number of events, so a simulation that
//   schedules forever still stops.
//
// Callbacks are stored without a heap allocation when they fit in callback_inline_bytes
// (a lambda capturing a few pointers, or a pointer and a std::string); larger ones are boxed
// on the heap. Cancelling is lazy: the callback is destroyed at once, and its queue entry is
// skipped when it reaches the top (the queue is compacted when most entries are stale).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "sim/assert.hpp"
#include "sim/time.hpp"

namespace s3chaos::sim {

// Names one scheduled event, for cancel(). Never reused within a Scheduler's life.
struct EventId {
  std::uint64_t value = 0;  // 0 names no event.
  constexpr bool valid() const noexcept { return value != 0; }
  friend constexpr bool operator==(EventId, EventId) = default;
};

// Why a run loop returned.
enum class StopReason {
  queue_empty,     // run(): no event left.
  time_reached,    // run_until(): every event at or before the target time has run.
  event_limit,     // the loop ran its events_max events.
  stop_requested,  // a callback called request_stop().
};

struct RunResult {
  std::uint64_t events_run = 0;
  StopReason reason = StopReason::queue_empty;
};

class Scheduler {
 public:
  // A callable of at most this size and alignment (and a noexcept destructor) is stored inline
  // in its slot: a lambda capturing up to six pointers, or a pointer and a std::string. A larger
  // one costs one heap allocation.
  static constexpr std::size_t callback_inline_bytes = 48;
  static constexpr std::size_t callback_inline_align = 8;
  // Pending events are addressed by a 24-bit slot index packed into their id.
  static constexpr std::uint64_t events_pending_max = std::uint64_t{1} << 24;
  // Schedule calls over the Scheduler's life (40-bit sequence numbers): at 100 million events
  // a second, three hours of wall time.
  static constexpr std::uint64_t events_scheduled_max = std::uint64_t{1} << 40;

  Scheduler();
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The current simulated time: the time of the event running or last run, or the target of
  // the last run_until(). Starts at 0.
  TimeNs now() const noexcept { return now_; }

  // Schedules `callback` (invocable as void()) to run at `time`. Requires time >= now().
  // An event scheduled at now() from inside a callback runs after every event already queued
  // for now(). Returns the id to cancel it with.
  template <typename F>
  EventId schedule_at(TimeNs time, F&& callback);

  // Schedules `callback` to run `delay` nanoseconds from now(). Requires delay >= 0.
  template <typename F>
  EventId schedule_after(TimeNs delay, F&& callback) {
    S3CHAOS_ASSERT_MSG(delay >= 0, "negative delay");
    S3CHAOS_ASSERT_MSG(delay <= INT64_MAX - now_, "time overflow");
    return schedule_at(now_ + delay, std::forward<F>(callback));
  }

  // Cancels a pending event and destroys its callback now. Returns false (and does nothing)
  // when the event already ran, is running, was cancelled, or the id is invalid.
  bool cancel(EventId id) noexcept;

  // Whether the event is still waiting to run.
  bool pending(EventId id) const noexcept;

  // Runs the next event, if any. Returns whether one ran. Ignores request_stop().
  bool step();

  // Runs events until none is left, a callback calls request_stop(), or events_max events
  // have run.
  RunResult run(std::uint64_t events_max);

  // Runs every event whose time is at or before `time` (events that those events schedule
  // at or before `time` included), then sets now() to `time`. Stops early, leaving now() at
  // the last event's time, on request_stop() or after events_max events. Requires
  // time >= now().
  RunResult run_until(TimeNs time, std::uint64_t events_max);

  // Makes the run loop in progress return after the current event. A request made while no
  // loop runs makes the next run()/run_until() return at once. Consumed when honoured.
  void request_stop() noexcept { stop_requested_ = true; }

  // Events waiting to run (cancelled ones excluded).
  std::size_t pending_count() const noexcept { return heap_.size() - stale_in_heap_; }
  bool empty() const noexcept { return pending_count() == 0; }
  // The time of the next event to run; requires !empty().
  TimeNs next_event_time();
  // Events run since construction.
  std::uint64_t events_run() const noexcept { return events_run_; }

 private:
  // A heap key: time in the high 64 bits, then the 40-bit sequence number, then the 24-bit
  // slot. One unsigned 128-bit comparison orders by (time, sequence); the slot bits never
  // decide since sequence numbers are unique. The low 64 bits are also the event's id.
  using Key = unsigned __int128;
  static constexpr int slot_bits = 24;
  static constexpr std::uint64_t slot_mask = (std::uint64_t{1} << slot_bits) - 1;
  static constexpr std::uint32_t slots_per_page = 1024;

  // What a callback slot runs: invoke the callable then destroy it (invoke == true), or only
  // destroy it (cancel, destruction).
  using Operation = void (*)(void* storage, bool invoke);

  struct alignas(64) Slot {
    std::uint64_t id;  // The id of the event in this slot; 0 when free or running.
    Operation operation;
    alignas(callback_inline_align) unsigned char storage[callback_inline_bytes];
  };
  static_assert(sizeof(Slot) == 64);

  template <typename Fn>
  static constexpr bool stored_inline =
      sizeof(Fn) <= callback_inline_bytes &&
      alignof(Fn) <= callback_inline_align&& std::is_nothrow_destructible_v<Fn>;

  template <typename Fn>
  static void inline_operation(void* storage, bool invoke) {
    Fn* fn = std::launder(static_cast<Fn*>(storage));
    if (invoke) {
      // Destroy even if the callback throws, so the slot never holds a dead callable.
      struct Destroy {
        Fn* fn;
        ~Destroy() { fn->~Fn(); }
      } destroy{fn};
      (*fn)();
    } else {
      fn->~Fn();
    }
  }

  template <typename Fn>
  static void boxed_operation(void* storage, bool invoke) {
    std::unique_ptr<Fn> fn(*std::launder(static_cast<Fn**>(storage)));
    if (invoke) (*fn)();
  }

  Slot& slot_at(std::uint64_t index) noexcept {
    return pages_[index / slots_per_page][index % slots_per_page];
  }
  const Slot& slot_at(std::uint64_t index) const noexcept {
    return pages_[index / slots_per_page][index % slots_per_page];
  }
  // Takes a free slot (inline: it runs on every schedule call); add_page() when none is left.
  std::uint32_t acquire_slot() {
    if (free_slots_.empty()) [[unlikely]]
      add_page();
    const std::uint32_t index = free_slots_.back();
    free_slots_.pop_back();
    return index;
  }
  void add_page();
  EventId enqueue(TimeNs time, std::uint32_t slot_index, Operation operation);
  // Drops stale (cancelled) entries from the top of the heap.
  void drop_stale_top() noexcept;
  // Removes the heap's top entry.
  void pop_top() noexcept;
  void push_key(Key key);
  void compact();
  void run_top();
  // Runs events at or before time_max until none is left (returning `done`), a stop request,
  // or events_max events.
  RunResult run_events(TimeNs time_max, std::uint64_t events_max, StopReason done);

  TimeNs now_ = 0;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t events_run_ = 0;
  std::size_t stale_in_heap_ = 0;
  bool stop_requested_ = false;
  bool running_ = false;
  std::vector<Key> heap_;
  std::vector<std::unique_ptr<Slot[]>> pages_;
  std::vector<std::uint32_t> free_slots_;
};

template <typename F>
EventId Scheduler::schedule_at(TimeNs time, F&& callback) {
  using Fn = std::decay_t<F>;
  static_assert(std::is_invocable_r_v<void, Fn&>, "a callback is invocable as void()");
  S3CHAOS_ASSERT_MSG(time >= now_, "scheduling in the past");
  const std::uint32_t slot_index = acquire_slot();
  void* storage = slot_at(slot_index).storage;
  if constexpr (stored_inline<Fn>) {
    ::new (storage) Fn(std::forward<F>(callback));
    return enqueue(time, slot_index, &inline_operation<Fn>);
  } else {
    ::new (storage) Fn*(new Fn(std::forward<F>(callback)));
    return enqueue(time, slot_index, &boxed_operation<Fn>);
  }
}

}  // namespace s3chaos::sim
