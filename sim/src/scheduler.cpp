#include "sim/scheduler.hpp"

#include <algorithm>

namespace s3chaos::sim {
namespace {

// When stale entries are more than half of a heap at least this big, compact it.
constexpr std::size_t compact_heap_size_min = 1024;
// From this queue size on (64 KiB of slots), run_top prefetches two events ahead.
constexpr std::size_t prefetch_second_heap_size_min = 1024;

std::uint64_t id_of(unsigned __int128 key) noexcept {
  return static_cast<std::uint64_t>(key);
}
TimeNs time_of(unsigned __int128 key) noexcept {
  return static_cast<TimeNs>(key >> 64);
}

}  // namespace

Scheduler::Scheduler() {
  heap_.reserve(slots_per_page);
}

Scheduler::~Scheduler() {
  // Destroy the callbacks still pending; cancelled and run ones are already destroyed.
  for (const Key key : heap_) {
    const std::uint64_t id = id_of(key);
    Slot& slot = slot_at(id & slot_mask);
    if (slot.id == id) slot.operation(slot.storage, false);
  }
}

void Scheduler::add_page() {
  const std::uint64_t first = pages_.size() * std::uint64_t{slots_per_page};
  S3CHAOS_ASSERT_MSG(first + slots_per_page <= events_pending_max, "too many pending events");
  pages_.push_back(std::make_unique<Slot[]>(slots_per_page));
  // Pushed in reverse so that slots are handed out in increasing order.
  for (std::uint64_t i = slots_per_page; i-- > 0;) {
    free_slots_.push_back(static_cast<std::uint32_t>(first + i));
  }
}

EventId Scheduler::enqueue(TimeNs time, std::uint32_t slot_index, Operation operation) {
  S3CHAOS_ASSERT_MSG(next_sequence_ < events_scheduled_max, "sequence numbers exhausted");
  const std::uint64_t id = (next_sequence_++ << slot_bits) | slot_index;
  Slot& slot = slot_at(slot_index);
  slot.id = id;
  slot.operation = operation;
  push_key((static_cast<Key>(static_cast<std::uint64_t>(time)) << 64) | id);
  return EventId{id};
}

// The queue is a 4-ary min-heap: half the levels of a binary heap, and the four children of a
// node are adjacent (64 bytes of keys), so a large queue costs half the cache misses per pop.
// Entries move into a "hole" instead of being swapped, which halves the stores.
namespace {

constexpr std::size_t heap_arity = 4;

std::size_t parent_of(std::size_t index) noexcept {
  return (index - 1) / heap_arity;
}
std::size_t first_child_of(std::size_t index) noexcept {
  return heap_arity * index + 1;
}

// The index of the smallest of the children starting at `first` (at least one exists).
template <typename Key>
std::size_t smallest_child(const Key* heap, std::size_t first, std::size_t size) noexcept {
  std::size_t best = first;
  const std::size_t end = std::min(first + heap_arity, size);
  for (std::size_t child = first + 1; child < end; ++child) {
    if (heap[child] < heap[best]) best = child;
  }
  return best;
}

template <typename Key>
void sift_up(Key* heap, std::size_t hole, Key key) noexcept {
  while (hole > 0) {
    const std::size_t parent = parent_of(hole);
    if (heap[parent] <= key) break;
    heap[hole] = heap[parent];
    hole = parent;
  }
  heap[hole] = key;
}

template <typename Key>
void sift_down(Key* heap, std::size_t size, std::size_t hole, Key key) noexcept {
  for (std::size_t first = first_child_of(hole); first < size; first = first_child_of(hole)) {
    const std::size_t child = smallest_child(heap, first, size);
    if (key <= heap[child]) break;
    heap[hole] = heap[child];
    hole = child;
  }
  heap[hole] = key;
}

}  // namespace

void Scheduler::push_key(Key key) {
  heap_.push_back(key);
  sift_up(heap_.data(), heap_.size() - 1, key);
}

void Scheduler::pop_top() noexcept {
  const Key last = heap_.back();
  heap_.pop_back();
  const std::size_t size = heap_.size();
  if (size == 0) return;
  Key* const heap = heap_.data();
  // Bottom-up: walk the hole down to a leaf along the smallest children, then sift `last` up
  // from there. `last` came from the bottom, so it rarely climbs far, and the walk down skips
  // comparing it at every level.
  std::size_t hole = 0;
  for (std::size_t first = first_child_of(hole); first < size; first = first_child_of(hole)) {
    const std::size_t child = smallest_child(heap, first, size);
    heap[hole] = heap[child];
    hole = child;
  }
  sift_up(heap, hole, last);
}

void Scheduler::drop_stale_top() noexcept {
  while (!heap_.empty()) {
    const std::uint64_t id = id_of(heap_.front());
    if (slot_at(id & slot_mask).id == id) return;
    pop_top();
    --stale_in_heap_;
  }
}

void Scheduler::compact() {
  std::erase_if(heap_, [this](Key key) {
    const std::uint64_t id = id_of(key);
    return slot_at(id & slot_mask).id != id;
  });
  for (std::size_t index = heap_.size() / heap_arity + 1; index-- > 0;) {
    if (index < heap_.size()) sift_down(heap_.data(), heap_.size(), index, heap_[index]);
  }
  stale_in_heap_ = 0;
}

bool Scheduler::cancel(EventId event) noexcept {
  const std::uint64_t id = event.value;
  if (id == 0) return false;
  const std::uint64_t index = id & slot_mask;
  if (index >= pages_.size() * std::uint64_t{slots_per_page}) return false;
  Slot& slot = slot_at(index);
  if (slot.id != id) return false;
  slot.id = 0;
  slot.operation(slot.storage, false);
  free_slots_.push_back(static_cast<std::uint32_t>(index));
  ++stale_in_heap_;
  if (stale_in_heap_ * 2 > heap_.size() && heap_.size() >= compact_heap_size_min) compact();
  return true;
}

bool Scheduler::pending(EventId event) const noexcept {
  const std::uint64_t id = event.value;
  if (id == 0) return false;
  const std::uint64_t index = id & slot_mask;
  if (index >= pages_.size() * std::uint64_t{slots_per_page}) return false;
  return slot_at(index).id == id;
}

TimeNs Scheduler::next_event_time() {
  drop_stale_top();
  S3CHAOS_ASSERT_MSG(!heap_.empty(), "next_event_time() on an empty scheduler");
  return time_of(heap_.front());
}

// Runs the heap's top entry, which must be live.
void Scheduler::run_top() {
  const Key key = heap_.front();
  const TimeNs time = time_of(key);
  const std::uint64_t id = id_of(key);
  S3CHAOS_ASSERT_MSG(time >= now_, "time went backwards");
  pop_top();
  // The next event's slot is most likely a cache miss in a large queue: start loading it now,
  // so the load overlaps this callback instead of stalling the next step.
  if (!heap_.empty()) {
    __builtin_prefetch(&slot_at(id_of(heap_.front()) & slot_mask));
    // And the one after it, the least of the root's children, unless callbacks schedule
    // earlier events meanwhile: two misses in flight instead of one. Only for queues whose
    // slots outgrow the L1 cache; a small queue would pay the comparisons for nothing.
    if (heap_.size() >= prefetch_second_heap_size_min) {
      const Key* heap = heap_.data();
      const std::size_t after = smallest_child(heap, 1, heap_.size());
      __builtin_prefetch(&slot_at(id_of(heap[after]) & slot_mask));
    }
  }
  now_ = time;
  const std::uint32_t index = static_cast<std::uint32_t>(id & slot_mask);
  Slot& slot = slot_at(index);
  // Mark the slot running: a cancel() from inside the callback must not destroy it, and the
  // slot must not be reused until the callback returns. Pages never move, so `slot` stays
  // valid while the callback schedules (and allocates) more.
  slot.id = 0;
  running_ = true;
  slot.operation(slot.storage, true);
  running_ = false;
  free_slots_.push_back(index);
  ++events_run_;
}

bool Scheduler::step() {
  S3CHAOS_ASSERT_MSG(!running_, "step() called from inside a callback");
  drop_stale_top();
  if (heap_.empty()) return false;
  run_top();
  return true;
}

RunResult Scheduler::run(std::uint64_t events_max) {
  S3CHAOS_ASSERT_MSG(!running_, "run() called from inside a callback");
  // No event is later than the largest time, so this loop ends only when the queue is empty.
  return run_events(INT64_MAX, events_max, StopReason::queue_empty);
}

RunResult Scheduler::run_until(TimeNs time, std::uint64_t events_max) {
  S3CHAOS_ASSERT_MSG(!running_, "run_until() called from inside a callback");
  S3CHAOS_ASSERT_MSG(time >= now_, "run_until() into the past");
  const RunResult result = run_events(time, events_max, StopReason::time_reached);
  if (result.reason == StopReason::time_reached) now_ = time;
  return result;
}

RunResult Scheduler::run_events(TimeNs time_max, std::uint64_t events_max, StopReason done) {
  RunResult result;
  for (;;) {
    if (stop_requested_) {
      stop_requested_ = false;
      result.reason = StopReason::stop_requested;
      return result;
    }
    drop_stale_top();
    if (heap_.empty() || time_of(heap_.front()) > time_max) {
      result.reason = done;
      return result;
    }
    if (result.events_run == events_max) {
      result.reason = StopReason::event_limit;
      return result;
    }
    run_top();
    ++result.events_run;
  }
}

}  // namespace s3chaos::sim
