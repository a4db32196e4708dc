// The real `fake-s3` program (bin/fake-s3 of this build) as a process: its listening line,
// graceful exit on SIGTERM, bad flags, and --data-dir surviving a kill -9 and a restart.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include "raw_http.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using raw_http::Connection;
using raw_http::Request;

const s3chaos::s3proto::Credentials good{"AKIDBINARY", "binary-secret"};

fs::path binary_path() {
  // Tests live in BUILD/tests, programs in BUILD/bin.
  return fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "bin" / "fake-s3";
}

struct Process {
  pid_t pid = -1;
  int stdout_fd = -1;
  std::string first_line;

  ~Process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (stdout_fd >= 0) ::close(stdout_fd);
  }

  // Waits up to `timeout_ms` for the process to exit; its exit status, or -1.
  int wait_exit(int timeout_ms) {
    for (int waited = 0; waited < timeout_ms; waited += 10) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      ::usleep(10'000);
    }
    return -1;
  }

  std::uint16_t port() const {
    const auto colon = first_line.rfind(':');
    return static_cast<std::uint16_t>(std::stoi(first_line.substr(colon + 1)));
  }
};

// Starts fake-s3 with `arguments` and reads its first stdout line (up to 20 s).
std::unique_ptr<Process> start(const std::vector<std::string>& arguments) {
  auto process = std::make_unique<Process>();
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) return process;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  const std::string program = binary_path().string();
  std::vector<std::string> argv_strings = {program};
  argv_strings.insert(argv_strings.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& argument : argv_strings) argv.push_back(argument.data());
  argv.push_back(nullptr);
  const int spawned =
      posix_spawn(&process->pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  process->stdout_fd = pipe_fds[0];
  if (spawned != 0) {
    process->pid = -1;
    return process;
  }
  for (int waited = 0; waited < 20'000; waited += 50) {
    pollfd poll_fd{process->stdout_fd, POLLIN, 0};
    if (::poll(&poll_fd, 1, 50) <= 0) continue;
    char c = 0;
    while (::read(process->stdout_fd, &c, 1) == 1 && c != '\n') process->first_line += c;
    break;
  }
  return process;
}

raw_http::Response send(std::uint16_t port, const Request& request) {
  Connection connection(port);
  connection.send(raw_http::signed_request(request, port, good) + request.body);
  return raw_http::read_response(connection, request.method == "HEAD");
}

std::vector<std::string> credentials_flags() {
  return {"--access-key", good.access_key_id, "--secret-key", good.secret_access_key};
}

TEST(FakeS3Binary, PrintsItsListeningLineServesAndExitsCleanlyOnSigterm) {
  // Proves the program's interface: one listening line, real S3 answers, exit 0 on SIGTERM.
  ASSERT_TRUE(fs::exists(binary_path())) << binary_path();
  auto flags = credentials_flags();
  flags.insert(flags.end(), {"--port", "0"});
  auto process = start(flags);
  ASSERT_GT(process->pid, 0);
  ASSERT_TRUE(process->first_line.starts_with("listening on http://127.0.0.1:"))
      << process->first_line;
  const std::uint16_t port = process->port();
  EXPECT_EQ(send(port, Request{"PUT", "/binary", {}, {}, ""}).status, 200);
  EXPECT_EQ(send(port, Request{"PUT", "/binary/k", {}, {}, "v"}).status, 200);
  Connection idle(port);  // an idle keep-alive connection must not delay the exit
  ASSERT_EQ(::kill(process->pid, SIGTERM), 0);
  EXPECT_EQ(process->wait_exit(10'000), 0);
}

TEST(FakeS3Binary, BadFlagsExitWithTwo) {
  // Proves bad usage is exit code 2 with no listening line.
  auto process = start({"--port", "not-a-port"});
  EXPECT_EQ(process->first_line, "");
  EXPECT_EQ(process->wait_exit(10'000), 2);
  process = start({"--port", "0"});  // no credentials anywhere and no --allow-anonymous
  if (::getenv("AWS_ACCESS_KEY_ID") == nullptr) {
    EXPECT_EQ(process->wait_exit(10'000), 2);
  }
}

TEST(FakeS3Binary, DataDirSurvivesKillNineAndRestart) {
  // Proves --data-dir keeps every acknowledged object across a kill -9: after the restart the
  // objects read back byte for byte, and a write cut mid-body before the kill left nothing.
  const fs::path directory =
      fs::temp_directory_path() / ("fake-s3-data-" + std::to_string(::getpid()));
  fs::remove_all(directory);
  auto flags = credentials_flags();
  flags.insert(flags.end(), {"--port", "0", "--data-dir", directory.string()});
  std::string big(300 * 1024, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7919 % 251);
  {
    auto process = start(flags);
    ASSERT_GT(process->pid, 0);
    ASSERT_FALSE(process->first_line.empty());
    const std::uint16_t port = process->port();
    ASSERT_EQ(send(port, Request{"PUT", "/durable", {}, {}, ""}).status, 200);
    ASSERT_EQ(send(port, Request{"PUT", "/durable/small", {}, {}, "small"}).status, 200);
    ASSERT_EQ(send(port, Request{"PUT", "/durable/big", {}, {}, big}).status, 200);
    ASSERT_EQ(send(port, Request{"PUT", "/durable/../escape", {}, {}, "dots"}).status, 200);
    {
      Connection connection(port);  // cut mid-body: must not replace "small"
      const Request request{"PUT", "/durable/small", {}, {}, std::string(1000, 'x')};
      connection.send(raw_http::signed_request(request, port, good) + "xxxx");
    }
    ::usleep(100'000);
    ::kill(process->pid, SIGKILL);
    EXPECT_EQ(process->wait_exit(10'000), 128 + SIGKILL);
  }
  {
    auto process = start(flags);
    ASSERT_GT(process->pid, 0);
    ASSERT_FALSE(process->first_line.empty());
    const std::uint16_t port = process->port();
    EXPECT_EQ(send(port, Request{"GET", "/durable/small", {}, {}, ""}).body, "small");
    EXPECT_EQ(send(port, Request{"GET", "/durable/big", {}, {}, ""}).body, big);
    EXPECT_EQ(send(port, Request{"GET", "/durable/../escape", {}, {}, ""}).body, "dots");
    ::kill(process->pid, SIGTERM);
    EXPECT_EQ(process->wait_exit(10'000), 0);
  }
  // Nothing was written outside the data directory.
  EXPECT_FALSE(fs::exists(directory.parent_path() / "escape"));
  fs::remove_all(directory);
}

}  // namespace
