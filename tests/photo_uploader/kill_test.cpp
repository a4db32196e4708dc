// A real crash of the real program: bin/photo-uploader runs as a child process against an
// in-process S3 endpoint (mini_s3.hpp); four phones post photos; the test kills the process
// with SIGKILL mid-stream, restarts it on the same data directory, re-posts the photos whose
// answer never came (as a phone would), and checks that every acknowledged photo reaches the
// store exactly once with its exact bytes, and that the cache drains. Then SIGTERM stops it
// cleanly (exit status 0).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "mini_s3.hpp"
#include "net/http_client.hpp"
#include "s3proto/checksum.hpp"

namespace s3chaos::photo_uploader {
namespace {

using namespace std::chrono_literals;
using testing::MiniS3;

std::string program_path() {
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  return (self.parent_path().parent_path() / "bin" / "photo-uploader").string();
}

struct Child {
  pid_t pid = -1;
  std::uint16_t port = 0;
};

// Starts photo-uploader and waits (at most 30 s) for its "listening on" line.
Child spawn(const std::string& data_directory, const std::string& store_url) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {};
  const std::string program = program_path();
  std::vector<std::string> args = {program,
                                   "--listen-port",
                                   "0",
                                   "--data-dir",
                                   data_directory,
                                   "--endpoint",
                                   store_url,
                                   "--bucket",
                                   "photos",
                                   "--settle-seconds",
                                   "0.2",
                                   "--request-timeout-seconds",
                                   "5",
                                   "--server-threads",
                                   "4"};
  std::vector<std::string> environment = {
      std::string("AWS_ACCESS_KEY_ID=") + testing::mini_s3_access_key,
      std::string("AWS_SECRET_ACCESS_KEY=") + testing::mini_s3_secret_key};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& variable : environment) envp.push_back(variable.data());
  envp.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], STDOUT_FILENO);
    ::execve(program.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  Child child;
  child.pid = pid;
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd poll_fd{pipe_fds[0], POLLIN, 0};
    if (::poll(&poll_fd, 1, 100) <= 0) continue;
    char buffer[256];
    const ssize_t got = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (got <= 0) break;
    output.append(buffer, static_cast<std::size_t>(got));
    const auto at = output.find("listening on http://127.0.0.1:");
    const auto end = output.find('\n', at);
    if (at != std::string::npos && end != std::string::npos) {
      child.port = static_cast<std::uint16_t>(std::stoi(output.substr(at + 30, end - at - 30)));
      break;
    }
  }
  ::close(pipe_fds[0]);
  return child;
}

int wait_for(pid_t pid) {
  int status = 0;
  for (int i = 0; i < 300; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(100ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  ADD_FAILURE() << "photo-uploader did not exit within 30 s";
  return status;
}

std::string photo_bytes(const std::string& photo_id) {
  std::mt19937_64 generator(std::hash<std::string>{}(photo_id));
  std::string bytes(64 * 1024, '\0');
  for (char& c : bytes) c = static_cast<char>(generator());
  return bytes;
}

net::HttpClientResult put(net::HttpClient& client, std::uint16_t port, const std::string& id) {
  net::HttpClientRequest request;
  request.method = "PUT";
  request.target = "/photos/" + id;
  request.body = photo_bytes(id);
  request.headers.emplace_back(
      "x-amz-checksum-sha256",
      s3proto::checksum_base64(s3proto::ChecksumAlgorithm::sha256, request.body));
  return client.send_and_wait({"127.0.0.1", port}, request, 10s);
}

TEST(Kill, SigkillMidStreamLosesAndDuplicatesNothing) {
  const std::string program = program_path();
  if (!std::filesystem::exists(program)) GTEST_SKIP() << program << " is not built";
  MiniS3 store;
  std::string data = std::filesystem::temp_directory_path() / "photo-uploader-kill-XXXXXX";
  ASSERT_NE(::mkdtemp(data.data()), nullptr);

  Child first = spawn(data, store.url());
  ASSERT_GT(first.port, 0) << "photo-uploader did not start";

  // Four phones post until the process dies under them.
  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::set<std::string> unanswered;
  std::atomic<int> acks{0};
  std::vector<std::thread> phones;
  net::HttpClient client;
  for (int phone = 0; phone < 4; ++phone) {
    phones.emplace_back([&, phone] {
      for (int n = 0; n < 500; ++n) {
        const std::string id = "phone" + std::to_string(phone) + "-" + std::to_string(n);
        const auto result = put(client, first.port, id);
        std::lock_guard lock(mutex);
        if (result.error == net::HttpClientError::none && result.response.status == 200) {
          acknowledged.insert(id);
          ++acks;
        } else {
          unanswered.insert(id);
          if (result.error != net::HttpClientError::none) return;  // the process is gone
        }
      }
    });
  }
  for (int i = 0; i < 3000 && acks.load() < 40; ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(::kill(first.pid, SIGKILL), 0);
  const int killed = wait_for(first.pid);
  for (auto& phone : phones) phone.join();
  EXPECT_TRUE(WIFSIGNALED(killed) && WTERMSIG(killed) == SIGKILL);
  ASSERT_GE(acknowledged.size(), 40u);

  // Restart on the same directory; the phones retry what was never answered.
  Child second = spawn(data, store.url());
  ASSERT_GT(second.port, 0) << "photo-uploader did not restart";
  net::HttpClient retry_client;
  for (const std::string& id : unanswered) {
    const auto result = put(retry_client, second.port, id);
    EXPECT_EQ(result.response.status, 200) << id << " " << result.message;
  }
  std::set<std::string> posted = acknowledged;
  posted.insert(unanswered.begin(), unanswered.end());

  // Drain: every photo in the store, every local copy evicted (bounded).
  nlohmann::json metrics;
  for (int i = 0; i < 600; ++i) {
    net::HttpClientRequest request;
    request.target = "/metrics";
    const auto result = retry_client.send_and_wait({"127.0.0.1", second.port}, request, 5s);
    if (result.error == net::HttpClientError::none) {
      metrics = nlohmann::json::parse(result.response.body);
      if (metrics["cache_photos"] == 0) break;
    }
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(metrics["cache_photos"], 0) << metrics.dump();
  EXPECT_EQ(metrics["local_copies_lost"], 0);

  // Exactly once: one object per photo, with its exact bytes.
  const auto objects = store.objects("photos");
  std::map<std::string, std::string> id_of_md5;
  for (const std::string& id : posted) id_of_md5[s3proto::md5_hex(photo_bytes(id))] = id;
  std::map<std::string, int> copies_of;
  for (const auto& [key, bytes] : objects) {
    auto it = id_of_md5.find(s3proto::md5_hex(bytes));
    if (it != id_of_md5.end()) ++copies_of[it->second];
  }
  for (const std::string& id : posted) {
    EXPECT_EQ(copies_of[id], 1) << id << (acknowledged.count(id) ? " (acknowledged)" : "");
  }
  EXPECT_EQ(objects.size(), posted.size());
  EXPECT_EQ(store.bad_signatures.load(), 0u);

  // SIGTERM: a graceful stop.
  ASSERT_EQ(::kill(second.pid, SIGTERM), 0);
  const int stopped = wait_for(second.pid);
  EXPECT_TRUE(WIFEXITED(stopped) && WEXITSTATUS(stopped) == 0) << stopped;
  std::filesystem::remove_all(data);
}

}  // namespace
}  // namespace s3chaos::photo_uploader
