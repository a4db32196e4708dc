// Model-based test of SimDisk: random sequences of file operations, directory syncs, renames
// across directories, removes, crash-point arming and crashes run on SimDisk and on a tiny
// reference model (files as inodes with current/durable contents, directories as current and
// durable name -> inode maps). After every step both must agree on every error and on what
// every path holds; RapidCheck shrinks any disagreement to a minimal sequence.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "property_cases.hpp"
#include "sim/disk.hpp"

namespace s3chaos::sim {
namespace {

enum class Kind {
  create,
  write,
  truncate,
  sync_file,
  sync_directory,
  rename,
  remove,
  arm_crash,
  crash,
  count_
};

struct Operation {
  Kind kind = Kind::create;
  int path = 0;    // Index into paths (or directories for sync_directory).
  int target = 0;  // Second path, for rename.
  int offset = 0;
  std::string bytes;  // For write; its size is the new size for truncate.
};

// A small namespace, so operations collide often: two directories, three names in each.
const std::vector<std::string> directories = {"", "d"};
const std::vector<std::string> paths = {"a", "b", "c", "d/a", "d/b", "d/c"};

const char* kind_name(Kind kind) {
  static const char* names[] = {"create", "write",  "truncate",  "sync_file", "sync_directory",
                                "rename", "remove", "arm_crash", "crash"};
  return names[static_cast<int>(kind)];
}

std::ostream& operator<<(std::ostream& out, const Operation& operation) {
  out << kind_name(operation.kind) << "(" << paths[operation.path];
  if (operation.kind == Kind::rename) out << " -> " << paths[operation.target];
  if (operation.kind == Kind::write)
    out << " @" << operation.offset << " \"" << operation.bytes << "\"";
  if (operation.kind == Kind::truncate) out << " to " << operation.bytes.size();
  if (operation.kind == Kind::arm_crash) out << " in " << operation.offset << " calls";
  return out << ")";
}

// The reference model: no link counts, no garbage collection, no capacity; just the rules.
struct Model {
  struct File {
    std::string current;
    std::string durable;
  };
  std::map<int, File> files;
  std::map<std::string, std::map<std::string, int>> current_entries;  // directory -> name -> inode
  std::map<std::string, std::map<std::string, int>> durable_entries;
  int next_inode = 0;
  int crash_countdown = 0;  // Mutating calls left before the disk dies (0: not armed).
  bool dead = false;

  Model() {
    for (const std::string& directory : directories) {
      current_entries[directory];
      durable_entries[directory];
    }
  }

  static std::string directory_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? "" : path.substr(0, slash);
  }
  static std::string name_of(const std::string& path) {
    const auto slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
  }
  const int* find(const std::string& path) const {
    const auto& entries = current_entries.at(directory_of(path));
    const auto found = entries.find(name_of(path));
    return found == entries.end() ? nullptr : &found->second;
  }

  // Returns false when the disk is (or now becomes) dead: the call must fail with EIO.
  bool begin_mutation() {
    if (dead) return false;
    if (crash_countdown > 0 && --crash_countdown == 0) {
      dead = true;
      return false;
    }
    return true;
  }

  // Applies `operation`; returns whether it succeeds.
  bool apply(const Operation& operation) {
    const std::string& path = paths[operation.path];
    switch (operation.kind) {
      case Kind::create: {
        if (!begin_mutation()) return false;
        if (find(path) == nullptr) {
          files[next_inode] = File{};
          current_entries[directory_of(path)][name_of(path)] = next_inode++;
        }
        return true;
      }
      case Kind::write: {
        if (!begin_mutation()) return false;
        const int* inode = find(path);
        if (inode == nullptr) return false;
        std::string& contents = files[*inode].current;
        if (operation.bytes.empty()) return true;  // pwrite(2) of nothing extends nothing.
        const std::size_t end = operation.offset + operation.bytes.size();
        if (contents.size() < end) contents.resize(end, '\0');
        contents.replace(operation.offset, operation.bytes.size(), operation.bytes);
        return true;
      }
      case Kind::truncate: {
        if (!begin_mutation()) return false;
        const int* inode = find(path);
        if (inode == nullptr) return false;
        files[*inode].current.resize(operation.bytes.size(), '\0');
        return true;
      }
      case Kind::sync_file: {
        if (!begin_mutation()) return false;
        const int* inode = find(path);
        if (inode == nullptr) return false;
        files[*inode].durable = files[*inode].current;
        return true;
      }
      case Kind::sync_directory: {
        if (!begin_mutation()) return false;
        const std::string& directory = directories[operation.path % directories.size()];
        durable_entries[directory] = current_entries[directory];
        return true;
      }
      case Kind::rename: {
        if (!begin_mutation()) return false;
        const int* inode = find(path);
        if (inode == nullptr) return false;
        const int moved = *inode;
        const std::string& target = paths[operation.target];
        current_entries[directory_of(path)].erase(name_of(path));
        current_entries[directory_of(target)][name_of(target)] = moved;
        return true;
      }
      case Kind::remove: {
        if (!begin_mutation()) return false;
        if (find(path) == nullptr) return false;
        current_entries[directory_of(path)].erase(name_of(path));
        return true;
      }
      case Kind::arm_crash:
        crash_countdown = operation.offset;
        return true;
      case Kind::crash:
        current_entries = durable_entries;
        for (auto& [inode, file] : files) file.current = file.durable;
        dead = false;
        crash_countdown = 0;
        return true;
      case Kind::count_:
        break;
    }
    return false;
  }
};

// Runs one operation on the disk; returns whether it succeeded.
bool apply(SimDisk& disk, const Operation& operation) {
  const std::string& path = paths[operation.path];
  switch (operation.kind) {
    case Kind::create:
      return !disk.create_file(path);
    case Kind::write:
      return !disk.write_at(path, operation.offset, operation.bytes);
    case Kind::truncate:
      return !disk.truncate(path, operation.bytes.size());
    case Kind::sync_file:
      return !disk.sync_file(path);
    case Kind::sync_directory:
      return !disk.sync_directory(directories[operation.path % directories.size()]);
    case Kind::rename:
      return !disk.rename(path, paths[operation.target]);
    case Kind::remove:
      return !disk.remove(path);
    case Kind::arm_crash:
      disk.arm_crash_point(disk.mutating_call_count() + operation.offset);
      return true;
    case Kind::crash:
      disk.crash();
      return true;
    case Kind::count_:
      break;
  }
  return false;
}

// Compares every observable of the namespace; returns a description of the first mismatch.
std::string compare(SimDisk& disk, const Model& model) {
  if (disk.crash_point_reached() != model.dead) return "dead state differs";
  for (const std::string& path : paths) {
    std::string contents;
    const std::error_code error = disk.read_at(path, 0, 1000, contents);
    if (model.dead) {
      if (error != std::make_error_code(std::errc::io_error))
        return path + ": read works when dead";
      continue;
    }
    const int* inode = model.find(path);
    if ((inode != nullptr) != disk.exists(path)) return path + ": existence differs";
    if (inode == nullptr) continue;
    if (error) return path + ": read failed: " + error.message();
    if (contents != model.files.at(*inode).current) return path + ": contents differ";
  }
  if (!model.dead) {
    for (const std::string& directory : directories) {
      std::vector<std::string> names;
      if (disk.list_directory(directory, names)) return directory + ": list failed";
      std::vector<std::string> expected;
      for (const auto& [name, inode] : model.current_entries.at(directory)) {
        if (directory.empty() && name == "d") continue;
        expected.push_back(name);
      }
      if (directory.empty()) names.erase(std::remove(names.begin(), names.end(), "d"), names.end());
      if (names != expected) return "'" + directory + "': listing differs";
    }
  }
  return {};
}

rc::Gen<Operation> operation_generator() {
  return rc::gen::apply(
      [](int kind, int path, int target, int offset, std::string bytes) {
        Operation operation;
        operation.kind = static_cast<Kind>(kind);
        operation.path = path;
        operation.target = target;
        operation.offset = operation.kind == Kind::arm_crash ? 1 + offset % 4 : offset;
        operation.bytes = std::move(bytes);
        return operation;
      },
      rc::gen::inRange(0, static_cast<int>(Kind::count_)),
      rc::gen::inRange(0, static_cast<int>(paths.size())),
      rc::gen::inRange(0, static_cast<int>(paths.size())), rc::gen::inRange(0, 8),
      rc::gen::mapcat(rc::gen::inRange<std::size_t>(0, 6), [](std::size_t length) {
        return rc::gen::container<std::string>(length, rc::gen::inRange('a', 'f'));
      }));
}

// Operations per generated history.
constexpr std::size_t operations_max = 60;

TEST(SimDiskModel, AgreesWithReferenceModelUnderRandomOperationsAndCrashes) {
  test::check_property(
      [] {
        // The length grows with RapidCheck's size (up to operations_max) and shrinks by
        // dropping operations, so a counterexample comes back as a short history.
        const auto operations = *rc::gen::resize(
            operations_max, rc::gen::container<std::vector<Operation>>(operation_generator()));
        SimDisk disk(RandomStream::named(3, "disk.model"));
        Model model;
        RC_ASSERT(!disk.make_directory("d"));
        RC_ASSERT(!disk.sync_directory(""));
        for (std::size_t step = 0; step < operations.size(); ++step) {
          const Operation& operation = operations[step];
          const bool disk_ok = apply(disk, operation);
          const bool model_ok = model.apply(operation);
          RC_ASSERT(disk_ok == model_ok);
          const std::string mismatch = compare(disk, model);
          if (!mismatch.empty()) {
            std::ostringstream history;
            for (std::size_t i = 0; i <= step; ++i) history << operations[i] << "; ";
            RC_FAIL(mismatch + " after " + history.str());
          }
        }
      },
      500);
}

}  // namespace
}  // namespace s3chaos::sim
