#include "sim/disk.hpp"

#include <algorithm>
#include <deque>
#include <set>

#include "path_components.hpp"
#include "sim/assert.hpp"

namespace s3chaos::sim {
namespace {

std::error_code make_error(std::errc code) {
  return std::make_error_code(code);
}

// Writes `bytes` at `offset` into `contents`, zero-filling any gap. An empty write changes nothing,
// even past the end (as pwrite(2) of zero bytes).
void apply_write(std::string& contents, std::uint64_t offset, std::string_view bytes) {
  if (bytes.empty()) return;
  // Overwrite what exists, zero-fill any gap, append the rest: the bytes past the old end are
  // written once (not zero-filled first), as appending to a journal does on every commit.
  const std::uint64_t size = contents.size();
  if (offset < size) {
    const std::size_t overlap = std::min<std::uint64_t>(bytes.size(), size - offset);
    std::copy(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(overlap),
              contents.begin() + static_cast<std::ptrdiff_t>(offset));
    bytes.remove_prefix(overlap);
  } else if (offset > size) {
    contents.resize(offset, '\0');
  }
  contents.append(bytes);
}

}  // namespace

void SimDisk::mark_unsynced(Inode& inode, std::uint64_t begin, std::uint64_t end) {
  inode.unsynced_begin = std::min(inode.unsynced_begin, begin);
  inode.unsynced_end = std::max(inode.unsynced_end, end);
  if (begin >= end) return;
  auto& ranges = inode.unsynced_ranges;
  // The common case: at or past the end of the last range (a file written front to back).
  if (ranges.empty() || ranges.back().second < begin) {
    ranges.emplace_back(begin, end);
    return;
  }
  // Merge with every range that overlaps or touches [begin, end): from the first one that
  // ends at or after `begin` up to the last one that starts at or before `end`.
  const auto first = std::lower_bound(ranges.begin(), ranges.end(), begin,
                                      [](const std::pair<std::uint64_t, std::uint64_t>& range,
                                         std::uint64_t value) { return range.second < value; });
  auto last = first;
  while (last != ranges.end() && last->first <= end) {
    begin = std::min(begin, last->first);
    end = std::max(end, last->second);
    ++last;
  }
  if (first == last) {
    ranges.insert(first, {begin, end});
  } else {
    *first = {begin, end};
    ranges.erase(first + 1, last);
  }
}

void SimDisk::clear_unsynced(Inode& inode) {
  inode.unsynced_begin = std::numeric_limits<std::uint64_t>::max();
  inode.unsynced_end = 0;
  inode.unsynced_ranges.clear();
}

void SimDisk::apply_pending(std::string& contents, const PendingOperation& operation) {
  if (operation.is_truncate) {
    contents.resize(operation.offset_or_size, '\0');
  } else {
    apply_write(contents, operation.offset_or_size, operation.bytes);
  }
}

SimDisk::SimDisk(RandomStream random) : random_(random) {
  Inode root;
  root.is_directory = true;
  root.current_links = 1;  // The root is always linked: nothing can remove it.
  root.durable_links = 1;
  inodes_.emplace(root_id, std::move(root));
}

void SimDisk::set_faults(const DiskFaults& faults) {
  faults_ = faults;
}

void SimDisk::inject_write_error_after(std::uint64_t calls) {
  write_error_countdown_ = calls;
}

void SimDisk::inject_sync_error_after(std::uint64_t calls) {
  sync_error_countdown_ = calls;
}

void SimDisk::arm_crash_point(std::uint64_t call_number) {
  S3CHAOS_ASSERT_MSG(call_number > mutating_call_count_, "crash point already passed");
  crash_point_ = call_number;
}

std::error_code SimDisk::begin_mutation() {
  ++mutating_call_count_;
  if (dead_) return make_error(std::errc::io_error);
  if (crash_point_ && mutating_call_count_ >= *crash_point_) {
    dead_ = true;
    return make_error(std::errc::io_error);
  }
  return {};
}

std::error_code SimDisk::check_alive() const {
  return dead_ ? make_error(std::errc::io_error) : std::error_code{};
}

bool SimDisk::draw_write_error() {
  if (write_error_countdown_ > 0 && --write_error_countdown_ == 0) return true;
  return faults_.write_error_probability > 0.0 && random_.chance(faults_.write_error_probability);
}

bool SimDisk::draw_sync_error() {
  if (sync_error_countdown_ > 0 && --sync_error_countdown_ == 0) return true;
  return faults_.sync_error_probability > 0.0 && random_.chance(faults_.sync_error_probability);
}

std::error_code SimDisk::lookup(std::string_view path, InodeId& id) const {
  // Validate the whole path first: its errors come before any missing component.
  if (auto error = detail::check_path(path)) return error;
  return walk(path, id);
}

std::error_code SimDisk::walk(std::string_view path, InodeId& id) const {
  InodeId at = root_id;
  std::error_code failed;
  // The components are views into `path`: no allocation per call.
  detail::for_each_path_component(path, [&](std::string_view component) {
    if (failed) return;
    const Inode& directory = inodes_.at(at);
    if (!directory.is_directory) {
      failed = make_error(std::errc::not_a_directory);
      return;
    }
    const auto entry = directory.current_entries.find(component);
    if (entry == directory.current_entries.end()) {
      failed = make_error(std::errc::no_such_file_or_directory);
      return;
    }
    at = entry->second;
  });
  if (failed) return failed;
  id = at;
  return {};
}

std::error_code SimDisk::lookup_parent(std::string_view path, InodeId& parent,
                                       std::string& name) const {
  if (auto error = detail::check_path(path)) return error;
  // The root has no parent and no name: it can be neither created, renamed nor removed.
  if (path.empty()) return make_error(std::errc::invalid_argument);
  const std::size_t slash = path.rfind('/');
  const std::string_view parent_path =
      slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
  if (auto error = walk(parent_path, parent)) return error;
  if (!inodes_.at(parent).is_directory) return make_error(std::errc::not_a_directory);
  name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  return {};
}

std::error_code SimDisk::lookup_file(std::string_view path, InodeId& id) const {
  if (auto error = lookup(path, id)) return error;
  if (inodes_.at(id).is_directory) return make_error(std::errc::is_a_directory);
  return {};
}

std::error_code SimDisk::lookup_file(std::string_view path, Inode*& inode) {
  if (Inode* cached = file_cache_.find(path)) {
    inode = cached;
    return {};
  }
  InodeId id = root_id;
  if (auto error = lookup_file(path, id)) return error;
  inode = &inodes_.at(id);
  file_cache_.insert(path, inode);
  return {};
}

SimDisk::InodeId SimDisk::allocate_inode(bool is_directory) {
  const InodeId id = next_inode_id_++;
  Inode inode;
  inode.is_directory = is_directory;
  inodes_.emplace(id, std::move(inode));
  return id;
}

void SimDisk::release_if_unreferenced(InodeId id) {
  const Inode& inode = inodes_.at(id);
  if (id == root_id || inode.current_links > 0 || inode.durable_links > 0) return;
  // Directories are never unlinked (no rename or remove of directories), so only files die.
  S3CHAOS_ASSERT(!inode.is_directory);
  file_cache_.forget_inode(&inode);
  inodes_.erase(id);
}

void SimDisk::record_pending(Inode& inode, bool is_truncate, std::uint64_t offset_or_size,
                             std::string_view bytes) {
  const bool needed = faults_.torn_write_probability > 0.0 || inode.changes_dropped;
  if (!needed || !inode.pending_complete || inode.pending.size() >= pending_operations_max) {
    // Without a complete history the file cannot be torn faithfully; it will simply revert.
    inode.pending_complete = false;
    inode.pending.clear();
    return;
  }
  // The bytes are copied only when the history is kept.
  inode.pending.push_back(PendingOperation{is_truncate, offset_or_size, std::string(bytes)});
}

std::error_code SimDisk::make_directory(std::string_view path) {
  if (auto error = begin_mutation()) return error;
  std::vector<std::string> components;
  if (auto error = detail::split_path(path, components)) return error;
  InodeId at = root_id;
  for (std::size_t i = 0; i < components.size(); ++i) {
    const auto entry = inodes_.at(at).current_entries.find(components[i]);
    if (entry != inodes_.at(at).current_entries.end()) {
      if (!inodes_.at(entry->second).is_directory) {
        return make_error(i + 1 == components.size() ? std::errc::file_exists
                                                     : std::errc::not_a_directory);
      }
      at = entry->second;
      continue;
    }
    const InodeId created = allocate_inode(true);
    inodes_.at(at).current_entries.emplace(components[i], created);
    inodes_.at(at).unsynced_names.insert(components[i]);
    inodes_.at(created).current_links = 1;
    at = created;
  }
  S3CHAOS_ASSERT(inodes_.at(at).is_directory);
  return {};
}

std::error_code SimDisk::create_file(std::string_view path) {
  if (auto error = begin_mutation()) return error;
  InodeId parent = root_id;
  std::string name;
  if (auto error = lookup_parent(path, parent, name)) return error;
  auto& entries = inodes_.at(parent).current_entries;
  const auto entry = entries.find(name);
  if (entry != entries.end()) {
    if (inodes_.at(entry->second).is_directory) return make_error(std::errc::is_a_directory);
    return {};
  }
  const InodeId created = allocate_inode(false);
  inodes_.at(parent).current_entries.emplace(name, created);
  inodes_.at(parent).unsynced_names.insert(name);
  inodes_.at(created).current_links = 1;
  return {};
}

std::error_code SimDisk::write_at(std::string_view path, std::uint64_t offset,
                                  std::string_view bytes) {
  if (auto error = begin_mutation()) return error;
  Inode* found = nullptr;
  if (auto error = lookup_file(path, found)) return error;
  if (offset > file_bytes_max || bytes.size() > file_bytes_max - offset)
    return make_error(std::errc::file_too_large);
  Inode& inode = *found;
  const std::uint64_t old_size = inode.current_contents.size();
  const std::uint64_t new_size =
      bytes.empty() ? old_size : std::max<std::uint64_t>(old_size, offset + bytes.size());
  if (draw_write_error()) return make_error(std::errc::io_error);
  const std::uint64_t growth = new_size - old_size;
  if (growth > faults_.capacity_bytes || used_bytes_ > faults_.capacity_bytes - growth)
    return make_error(std::errc::no_space_on_device);
  apply_write(inode.current_contents, offset, bytes);
  if (!bytes.empty()) {
    // A write past the end also zero-fills the gap from the old end.
    mark_unsynced(inode, std::min(offset, old_size), offset + bytes.size());
  }
  used_bytes_ += growth;
  record_pending(inode, false, offset, bytes);
  S3CHAOS_ASSERT(inode.current_contents.size() == new_size);
  return {};
}

std::error_code SimDisk::read_at(std::string_view path, std::uint64_t offset, std::uint64_t length,
                                 std::string& out) {
  out.clear();
  if (auto error = check_alive()) return error;
  Inode* inode = nullptr;
  if (auto error = lookup_file(path, inode)) return error;
  const std::string& contents = inode->current_contents;
  if (offset >= contents.size()) return {};
  // assign, not substr: reuses the capacity of `out`.
  out.assign(contents, offset, std::min<std::uint64_t>(length, contents.size() - offset));
  return {};
}

std::error_code SimDisk::truncate(std::string_view path, std::uint64_t size) {
  if (auto error = begin_mutation()) return error;
  Inode* found = nullptr;
  if (auto error = lookup_file(path, found)) return error;
  if (size > file_bytes_max) return make_error(std::errc::file_too_large);
  Inode& inode = *found;
  const std::uint64_t old_size = inode.current_contents.size();
  if (size > old_size) {
    const std::uint64_t growth = size - old_size;
    if (growth > faults_.capacity_bytes || used_bytes_ > faults_.capacity_bytes - growth)
      return make_error(std::errc::no_space_on_device);
    used_bytes_ += growth;
  } else {
    used_bytes_ -= old_size - size;
  }
  inode.current_contents.resize(size, '\0');
  // Cutting makes every byte past the new end suspect (a later extension reads zeros there);
  // growing zero-fills from the old end.
  mark_unsynced(inode, std::min(size, old_size),
                size < old_size ? std::numeric_limits<std::uint64_t>::max() : size);
  record_pending(inode, true, size, {});
  return {};
}

std::error_code SimDisk::file_size(std::string_view path, std::uint64_t& size) {
  if (auto error = check_alive()) return error;
  Inode* inode = nullptr;
  if (auto error = lookup_file(path, inode)) return error;
  size = inode->current_contents.size();
  return {};
}

std::error_code SimDisk::sync_file(std::string_view path) {
  if (auto error = begin_mutation()) return error;
  Inode* found = nullptr;
  if (auto error = lookup_file(path, found)) return error;
  Inode& inode = *found;
  if (draw_sync_error()) {
    if (faults_.failed_sync_drops_changes) {
      // The unsynced changes so far will never reach the disk; reads still see them.
      inode.changes_dropped = true;
      inode.pending.clear();
      inode.pending_complete = true;
    }
    return make_error(std::errc::io_error);
  }
  if (inode.changes_dropped && inode.pending_complete) {
    inode.diverged = true;
    // Write-back works on whole pages: a page written again since the failure goes out
    // entirely, with whatever bytes the page cache holds, dropped ones included. Pages not
    // written since keep their durable bytes (zeros past the old durable end).
    std::string next = inode.durable_contents;
    next.resize(inode.current_contents.size(), '\0');
    for (const PendingOperation& operation : inode.pending) {
      if (operation.is_truncate || operation.bytes.empty()) continue;
      const std::uint64_t first_page = operation.offset_or_size / page_bytes;
      const std::uint64_t last_page =
          (operation.offset_or_size + operation.bytes.size() - 1) / page_bytes;
      for (std::uint64_t page = first_page; page <= last_page; ++page) {
        const std::uint64_t begin = page * page_bytes;
        if (begin >= next.size()) break;
        const std::uint64_t length = std::min<std::uint64_t>(page_bytes, next.size() - begin);
        next.replace(begin, length, inode.current_contents, begin, length);
      }
    }
    inode.durable_contents = std::move(next);
  } else if (inode.changes_dropped) {
    // Without a complete history since the failure (overflow), persist everything: kinder
    // than Linux, never harsher.
    inode.durable_contents = inode.current_contents;
    inode.diverged = false;
  } else if (inode.diverged) {
    // Bytes between the unsynced ranges may differ (dropped by a failed sync, still read):
    // copy the whole hull of the changes (and the size).
    const std::uint64_t size = inode.current_contents.size();
    inode.durable_contents.resize(size, '\0');
    if (inode.unsynced_begin < size) {
      const std::uint64_t end = std::min(inode.unsynced_end, size);
      inode.durable_contents.replace(inode.unsynced_begin, end - inode.unsynced_begin,
                                     inode.current_contents, inode.unsynced_begin,
                                     end - inode.unsynced_begin);
    }
  } else {
    // Only the unsynced ranges can differ; copy them (and the size). Growth past the durable
    // size always lies in an unsynced range (writes and truncates mark from the old end), so
    // the grown tail is appended as it is, not zero-filled first and then copied over: a
    // rollback journal grows from nothing in every transaction.
    const std::uint64_t size = inode.current_contents.size();
    const std::uint64_t kept = std::min<std::uint64_t>(inode.durable_contents.size(), size);
    inode.durable_contents.resize(kept);
    inode.durable_contents.append(inode.current_contents, kept, size - kept);
    for (const auto& [begin, range_end] : inode.unsynced_ranges) {
      if (begin >= kept) break;
      const std::uint64_t end = std::min(range_end, kept);
      std::char_traits<char>::copy(inode.durable_contents.data() + begin,
                                   inode.current_contents.data() + begin, end - begin);
    }
  }
  S3CHAOS_ASSERT(inode.durable_contents.size() == inode.current_contents.size());
  clear_unsynced(inode);
  inode.changes_dropped = false;
  inode.pending.clear();
  inode.pending_complete = true;
  return {};
}

std::error_code SimDisk::sync_directory(std::string_view path) {
  if (auto error = begin_mutation()) return error;
  InodeId id = root_id;
  if (auto error = lookup(path, id)) return error;
  if (!inodes_.at(id).is_directory) return make_error(std::errc::not_a_directory);
  if (draw_sync_error()) return make_error(std::errc::io_error);
  Inode& directory = inodes_.at(id);
  std::vector<InodeId> no_longer_durable;
  for (const std::string& name : directory.unsynced_names) {
    const auto durable = directory.durable_entries.find(name);
    const auto current = directory.current_entries.find(name);
    if (durable != directory.durable_entries.end()) {
      --inodes_.at(durable->second).durable_links;
      no_longer_durable.push_back(durable->second);
    }
    if (current != directory.current_entries.end()) {
      ++inodes_.at(current->second).durable_links;
      directory.durable_entries[name] = current->second;
    } else if (durable != directory.durable_entries.end()) {
      directory.durable_entries.erase(durable);
    }
  }
  directory.unsynced_names.clear();
  S3CHAOS_ASSERT(directory.durable_entries.size() == directory.current_entries.size());
  for (InodeId target : no_longer_durable) release_if_unreferenced(target);
  return {};
}

std::error_code SimDisk::rename(std::string_view from, std::string_view to) {
  if (auto error = begin_mutation()) return error;
  InodeId from_parent = root_id;
  InodeId to_parent = root_id;
  std::string from_name;
  std::string to_name;
  if (auto error = lookup_parent(from, from_parent, from_name)) return error;
  if (auto error = lookup_parent(to, to_parent, to_name)) return error;
  auto& from_entries = inodes_.at(from_parent).current_entries;
  const auto source = from_entries.find(from_name);
  if (source == from_entries.end()) return make_error(std::errc::no_such_file_or_directory);
  const InodeId moved = source->second;
  if (inodes_.at(moved).is_directory) return make_error(std::errc::operation_not_supported);
  if (from_parent == to_parent && from_name == to_name) return {};
  file_cache_.forget_path(from);
  file_cache_.forget_path(to);
  auto& to_entries = inodes_.at(to_parent).current_entries;
  const auto target = to_entries.find(to_name);
  if (target != to_entries.end()) {
    const InodeId replaced = target->second;
    if (inodes_.at(replaced).is_directory) return make_error(std::errc::is_a_directory);
    to_entries.erase(target);
    if (replaced != moved) {
      Inode& old = inodes_.at(replaced);
      if (--old.current_links == 0) used_bytes_ -= old.current_contents.size();
      release_if_unreferenced(replaced);
    } else {
      // Two names of one inode (left by a half-durable rename and a crash): drop one name.
      --inodes_.at(moved).current_links;
    }
  }
  inodes_.at(from_parent).current_entries.erase(from_name);
  inodes_.at(from_parent).unsynced_names.insert(from_name);
  inodes_.at(to_parent).current_entries.emplace(to_name, moved);
  inodes_.at(to_parent).unsynced_names.insert(to_name);
  S3CHAOS_ASSERT(inodes_.at(moved).current_links > 0);
  return {};
}

std::error_code SimDisk::remove(std::string_view path) {
  if (auto error = begin_mutation()) return error;
  InodeId parent = root_id;
  std::string name;
  if (auto error = lookup_parent(path, parent, name)) return error;
  auto& entries = inodes_.at(parent).current_entries;
  const auto entry = entries.find(name);
  if (entry == entries.end()) return make_error(std::errc::no_such_file_or_directory);
  const InodeId removed = entry->second;
  if (inodes_.at(removed).is_directory) return make_error(std::errc::is_a_directory);
  file_cache_.forget_path(path);
  entries.erase(entry);
  inodes_.at(parent).unsynced_names.insert(name);
  Inode& inode = inodes_.at(removed);
  if (--inode.current_links == 0) used_bytes_ -= inode.current_contents.size();
  release_if_unreferenced(removed);
  return {};
}

bool SimDisk::exists(std::string_view path) {
  if (dead_) return false;
  InodeId id = root_id;
  return !lookup(path, id);
}

std::error_code SimDisk::list_directory(std::string_view path, std::vector<std::string>& names) {
  names.clear();
  if (auto error = check_alive()) return error;
  InodeId id = root_id;
  if (auto error = lookup(path, id)) return error;
  const Inode& directory = inodes_.at(id);
  if (!directory.is_directory) return make_error(std::errc::not_a_directory);
  // std::map keeps names sorted, as the interface promises.
  for (const auto& [name, target] : directory.current_entries) names.push_back(name);
  return {};
}

std::string SimDisk::torn_contents(const Inode& inode) {
  if (inode.pending.empty() || !inode.pending_complete ||
      !random_.chance(faults_.torn_write_probability)) {
    return inode.durable_contents;
  }
  ++torn_file_count_;
  if (faults_.torn_writes_reorder) {
    // Any subset reached the platter: each operation, independently, not at all, whole, or
    // (a write) as a strict prefix; those that did are applied in their original order.
    std::string contents = inode.durable_contents;
    for (const PendingOperation& operation : inode.pending) {
      const std::uint64_t fate = random_.below(3);
      if (fate == 0) continue;
      if (fate == 1 || operation.is_truncate || operation.bytes.empty()) {
        apply_pending(contents, operation);
        continue;
      }
      const std::size_t kept = random_.below(operation.bytes.size());
      apply_write(contents, operation.offset_or_size,
                  std::string_view(operation.bytes).substr(0, kept));
    }
    return contents;
  }
  // Operations before `torn_index` reached the platter whole; the one at `torn_index` only
  // in part (a strict prefix of a write, nothing of a truncate); later ones not at all.
  const std::size_t torn_index = random_.below(inode.pending.size());
  std::string contents = inode.durable_contents;
  for (std::size_t i = 0; i < torn_index; ++i) apply_pending(contents, inode.pending[i]);
  const PendingOperation& torn = inode.pending[torn_index];
  if (!torn.is_truncate && !torn.bytes.empty()) {
    const std::size_t kept = random_.below(torn.bytes.size());
    if (kept > 0) {
      apply_write(contents, torn.offset_or_size, std::string_view(torn.bytes).substr(0, kept));
    }
  }
  return contents;
}

void SimDisk::crash() {
  file_cache_.clear();
  // Files first, in inode order, so the random draws are the same for the same history.
  for (auto& [id, inode] : inodes_) {
    if (inode.is_directory) {
      inode.current_entries = inode.durable_entries;
      inode.unsynced_names.clear();
    } else {
      inode.durable_contents = torn_contents(inode);
      inode.current_contents = inode.durable_contents;
      clear_unsynced(inode);
      inode.diverged = false;
      inode.pending.clear();
      inode.pending_complete = true;
      inode.changes_dropped = false;
    }
    inode.current_links = 0;
    inode.durable_links = 0;
  }
  // Keep what the root reaches through durable entries; everything else is gone.
  std::set<InodeId> reachable{root_id};
  std::deque<InodeId> frontier{root_id};
  while (!frontier.empty()) {
    const InodeId id = frontier.front();
    frontier.pop_front();
    for (const auto& [name, target] : inodes_.at(id).durable_entries) {
      Inode& child = inodes_.at(target);
      ++child.current_links;
      ++child.durable_links;
      if (reachable.insert(target).second) frontier.push_back(target);
    }
  }
  std::erase_if(inodes_, [&](const auto& item) { return !reachable.contains(item.first); });
  Inode& root = inodes_.at(root_id);
  root.current_links = 1;
  root.durable_links = 1;
  used_bytes_ = 0;
  for (const auto& [id, inode] : inodes_) used_bytes_ += inode.current_contents.size();
  dead_ = false;
  crash_point_.reset();
  check_invariants();
}

void SimDisk::check_invariants() const {
  std::map<InodeId, std::uint32_t> current_links;
  std::map<InodeId, std::uint32_t> durable_links;
  for (const auto& [id, inode] : inodes_) {
    for (const auto& [name, target] : inode.current_entries) {
      S3CHAOS_ASSERT(inodes_.contains(target));
      ++current_links[target];
    }
    for (const auto& [name, target] : inode.durable_entries) {
      S3CHAOS_ASSERT(inodes_.contains(target));
      ++durable_links[target];
    }
  }
  std::uint64_t used = 0;
  for (const auto& [id, inode] : inodes_) {
    if (id == root_id) continue;
    S3CHAOS_ASSERT(inode.current_links == current_links[id]);
    S3CHAOS_ASSERT(inode.durable_links == durable_links[id]);
    S3CHAOS_ASSERT(inode.current_links > 0 || inode.durable_links > 0);
    if (inode.current_links > 0) used += inode.current_contents.size();
  }
  S3CHAOS_ASSERT(used == used_bytes_);
}

}  // namespace s3chaos::sim
