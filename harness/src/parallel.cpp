#include "harness/parallel.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/assert.hpp"

namespace s3chaos::harness {
namespace {

// Results a fast worker may hand back ahead of the one the caller waits for, per job: bounds
// the memory that finished-but-unreported results hold.
constexpr std::size_t results_ahead_per_job_max = 4;
// One result, at most: a run summary is a few kilobytes; this only stops a runaway.
constexpr std::size_t result_bytes_max = 64u << 20;

// A worker process: it reads run indices (8 bytes each) from its socket and answers each with
// an 8-byte length and a JSON document, until the socket closes. One worker runs many jobs, so
// the cost of a fork and of warming a fresh heap is paid once per worker, not once per run.
struct Worker {
  pid_t pid = -1;
  int socket = -1;
  std::optional<std::size_t> position;  // the job it runs now, by position in `indices`
  std::string input;                    // bytes of its answer so far
};

bool write_all(int fd, const void* data, std::size_t size) {
  const char* bytes = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::send(fd, bytes, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) {
  char* bytes = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = ::read(fd, bytes, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// In the worker: answer every index with {"ok": result} or {"error": message}; leave without
// running any destructor or atexit handler of the parent's state.
[[noreturn]] void worker_loop(int socket, const std::function<nlohmann::json(std::uint64_t)>& job) {
  std::uint64_t index = 0;
  while (read_all(socket, &index, sizeof index)) {
    std::string text;
    try {
      text = nlohmann::json{{"ok", job(index)}}.dump();
    } catch (const std::exception& error) {
      text = nlohmann::json{{"error", error.what()}}.dump(-1, ' ', false,
                                                          nlohmann::json::error_handler_t::replace);
    }
    const std::uint64_t length = text.size();
    std::fflush(stdout);
    std::fflush(stderr);
    if (!write_all(socket, &length, sizeof length) ||
        !write_all(socket, text.data(), text.size())) {
      break;
    }
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(0);
}

void stop_all(std::vector<Worker>& workers) {
  for (Worker& worker : workers) {
    ::kill(worker.pid, SIGKILL);
    ::close(worker.socket);
  }
  for (Worker& worker : workers) {
    int status = 0;
    while (::waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  workers.clear();
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

Worker start_worker(std::vector<Worker>& workers,
                    const std::function<nlohmann::json(std::uint64_t)>& job) {
  int sockets[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) != 0) {
    throw ParallelRunError(std::string("socketpair: ") + std::strerror(errno));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(sockets[0]);
    ::close(sockets[1]);
    throw ParallelRunError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::close(sockets[0]);
    for (const Worker& other : workers) ::close(other.socket);
    worker_loop(sockets[1], job);
  }
  ::close(sockets[1]);
  return Worker{pid, sockets[0], std::nullopt, {}};
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
  std::vector<Worker> workers;
  std::map<std::size_t, nlohmann::json> finished;  // results not yet handed on, by position
  std::size_t next_to_start = 0;
  std::size_t next_to_report = 0;
  const std::size_t ahead_max = results_ahead_per_job_max * jobs;
  try {
    const std::size_t worker_count = std::min<std::size_t>(jobs, indices.size());
    for (std::size_t i = 0; i < worker_count; ++i) workers.push_back(start_worker(workers, job));
    while (next_to_report < indices.size()) {
      // Hand on every result that is next in order.
      for (auto ready = finished.find(next_to_report); ready != finished.end();
           ready = finished.find(next_to_report)) {
        const nlohmann::json result = std::move(ready->second);
        finished.erase(ready);
        if (!on_result(indices[next_to_report], result)) {
          stop_all(workers);
          return;
        }
        ++next_to_report;
      }
      if (next_to_report >= indices.size()) break;
      // Give idle workers the next runs.
      for (Worker& worker : workers) {
        if (worker.position || next_to_start >= indices.size() ||
            next_to_start - next_to_report >= ahead_max) {
          continue;
        }
        const std::uint64_t index = indices[next_to_start];
        if (!write_all(worker.socket, &index, sizeof index)) {
          throw ParallelRunError("a worker process stopped taking runs (run " +
                                 std::to_string(index) + ")");
        }
        worker.position = next_to_start++;
      }
      std::vector<pollfd> polled;
      for (const Worker& worker : workers) polled.push_back({worker.socket, POLLIN, 0});
      if (::poll(polled.data(), polled.size(), -1) < 0) {
        if (errno == EINTR) continue;
        throw ParallelRunError(std::string("poll: ") + std::strerror(errno));
      }
      for (std::size_t i = 0; i < polled.size(); ++i) {
        if (polled[i].revents == 0) continue;
        Worker& worker = workers[i];
        char buffer[65536];
        const ssize_t n = ::read(worker.socket, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // The worker is gone before answering: an assertion fired or a signal killed it.
          int status = 0;
          while (::waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
          }
          const std::string run =
              worker.position ? "run " + std::to_string(indices[*worker.position]) : "a worker";
          throw ParallelRunError(run + " " + describe_status(status) +
                                 " before handing back its result (see its output above)");
        }
        worker.input.append(buffer, static_cast<std::size_t>(n));
        std::uint64_t length = 0;
        if (worker.input.size() < sizeof length) continue;
        std::memcpy(&length, worker.input.data(), sizeof length);
        if (length > result_bytes_max) {
          throw ParallelRunError("a worker handed back more than " +
                                 std::to_string(result_bytes_max) + " bytes");
        }
        if (worker.input.size() < sizeof length + length) continue;
        S3CHAOS_ASSERT_MSG(worker.position.has_value(), "a worker answered no run");
        S3CHAOS_ASSERT_MSG(worker.input.size() == sizeof length + length,
                           "a worker answered more than its run");
        const std::size_t position = *worker.position;
        const nlohmann::json reply =
            nlohmann::json::parse(worker.input.substr(sizeof length), nullptr, false);
        worker.input.clear();
        worker.position.reset();
        if (reply.is_object() && reply.contains("ok")) {
          finished[position] = reply["ok"];
        } else if (reply.is_object() && reply.contains("error")) {
          throw ParallelRunError("run " + std::to_string(indices[position]) +
                                 " failed: " + reply["error"].get<std::string>());
        } else {
          throw ParallelRunError("run " + std::to_string(indices[position]) +
                                 " handed back no result");
        }
      }
    }
  } catch (...) {
    stop_all(workers);
    throw;
  }
  stop_all(workers);
}

}  // namespace s3chaos::harness
