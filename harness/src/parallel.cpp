#include "harness/parallel.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "sim/assert.hpp"

namespace s3chaos::harness {
namespace {

// Results a fast child may hand back ahead of the one the caller waits for, per job: bounds
// the memory that finished-but-unreported results hold.
constexpr std::size_t results_ahead_per_job_max = 4;
// One child's result, at most: a run summary is a few kilobytes; this only stops a runaway.
constexpr std::size_t child_result_bytes_max = 64u << 20;

struct Child {
  pid_t pid = -1;
  int fd = -1;
  std::uint64_t index = 0;
  std::string output;
};

void write_all(int fd, const std::string& text) {
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(3);
    written += static_cast<std::size_t>(n);
  }
}

// In the child: run the job, hand back {"ok": result} or {"error": message}, and leave without
// running any destructor or atexit handler of the parent's state.
[[noreturn]] void run_child(int fd, std::uint64_t index,
                            const std::function<nlohmann::json(std::uint64_t)>& job) {
  std::string text;
  try {
    text = nlohmann::json{{"ok", job(index)}}.dump();
  } catch (const std::exception& error) {
    text = nlohmann::json{{"error", error.what()}}.dump(-1, ' ', false,
                                                        nlohmann::json::error_handler_t::replace);
  }
  write_all(fd, text);
  ::close(fd);
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(0);
}

void kill_all(std::map<std::size_t, Child>& children) {
  for (auto& [position, child] : children) {
    ::kill(child.pid, SIGKILL);
    ::close(child.fd);
  }
  for (auto& [position, child] : children) {
    int status = 0;
    while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  children.clear();
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int signal_number = WTERMSIG(status);
    return "was killed by signal " + std::to_string(signal_number) + " (" +
           ::strsignal(signal_number) + ")";
  }
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  return "ended in an unknown way";
}

}  // namespace

void run_in_order(
    const std::vector<std::uint64_t>& indices, unsigned jobs,
    const std::function<nlohmann::json(std::uint64_t index)>& job,
    const std::function<bool(std::uint64_t index, const nlohmann::json&)>& on_result) {
  S3CHAOS_ASSERT(jobs <= parallel_jobs_max);
  if (jobs <= 1) {
    for (const std::uint64_t index : indices) {
      if (!on_result(index, job(index))) return;
    }
    return;
  }
  std::map<std::size_t, Child> children;           // by position in `indices`
  std::map<std::size_t, nlohmann::json> finished;  // results not yet handed on
  std::size_t next_to_start = 0;
  std::size_t next_to_report = 0;
  const std::size_t ahead_max = results_ahead_per_job_max * jobs;
  try {
    while (next_to_report < indices.size()) {
      // Hand on every result that is next in order.
      while (true) {
        auto ready = finished.find(next_to_report);
        if (ready == finished.end()) break;
        const nlohmann::json result = std::move(ready->second);
        finished.erase(ready);
        if (!on_result(indices[next_to_report], result)) {
          kill_all(children);
          return;
        }
        ++next_to_report;
      }
      if (next_to_report >= indices.size()) break;
      // Start children while there is room.
      while (children.size() < jobs && next_to_start < indices.size() &&
             next_to_start - next_to_report < ahead_max) {
        int pipe_fds[2];
        if (::pipe(pipe_fds) != 0) {
          throw ParallelRunError(std::string("pipe: ") + std::strerror(errno));
        }
        std::fflush(stdout);
        std::fflush(stderr);
        const pid_t pid = ::fork();
        if (pid < 0) {
          ::close(pipe_fds[0]);
          ::close(pipe_fds[1]);
          throw ParallelRunError(std::string("fork: ") + std::strerror(errno));
        }
        if (pid == 0) {
          ::close(pipe_fds[0]);
          for (auto& [position, child] : children) ::close(child.fd);
          run_child(pipe_fds[1], indices[next_to_start], job);
        }
        // The parent closes the write end at once, so no later child inherits it and EOF
        // arrives when this child is done.
        ::close(pipe_fds[1]);
        children[next_to_start] = Child{pid, pipe_fds[0], indices[next_to_start], {}};
        ++next_to_start;
      }
      if (children.empty()) continue;
      std::vector<pollfd> polled;
      std::vector<std::size_t> positions;
      for (auto& [position, child] : children) {
        polled.push_back({child.fd, POLLIN, 0});
        positions.push_back(position);
      }
      if (::poll(polled.data(), polled.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw ParallelRunError(std::string("poll: ") + std::strerror(errno));
      }
      for (std::size_t i = 0; i < polled.size(); ++i) {
        if (polled[i].revents == 0) continue;
        Child& child = children.at(positions[i]);
        char buffer[65536];
        const ssize_t n = ::read(child.fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) {
          child.output.append(buffer, static_cast<std::size_t>(n));
          if (child.output.size() > child_result_bytes_max) {
            throw ParallelRunError("run " + std::to_string(child.index) +
                                   " handed back more than " +
                                   std::to_string(child_result_bytes_max) + " bytes");
          }
          continue;
        }
        // End of the child's output: collect it and its exit.
        ::close(child.fd);
        int status = 0;
        while (::waitpid(child.pid, &status, 0) < 0 && errno == EINTR) {
        }
        const Child done = std::move(child);
        children.erase(positions[i]);
        const nlohmann::json reply = nlohmann::json::parse(done.output, nullptr, false);
        if (reply.is_object() && reply.contains("ok")) {
          finished[positions[i]] = reply["ok"];
        } else if (reply.is_object() && reply.contains("error")) {
          throw ParallelRunError("run " + std::to_string(done.index) +
                                 " failed: " + reply["error"].get<std::string>());
        } else {
          throw ParallelRunError("run " + std::to_string(done.index) + " " +
                                 describe_status(status) +
                                 " before handing back its result (see its output above)");
        }
      }
    }
  } catch (...) {
    kill_all(children);
    throw;
  }
}

}  // namespace s3chaos::harness
