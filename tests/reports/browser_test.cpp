// Browser test of the reports: headless Chromium (Debian's chromium package) loads generated
// reports from file:// and, through the DevTools protocol over a pipe, proves there is no
// console error, no request leaving the file, and that the key elements are visible at a
// laptop's width; it saves a screenshot of the timeline. A control page with a script error, a
// network request and a hidden element proves the checks can fail.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "reports/report.hpp"
#include "source_dir.hpp"

namespace s3chaos::reports {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Every step with the browser shares this budget, so a hung browser fails the test in bounded
// time instead of hanging ctest.
constexpr std::chrono::seconds browser_budget{60};
constexpr int laptop_width_px = 1280;
constexpr int laptop_height_px = 900;
constexpr int narrow_laptop_width_px = 1024;
// A rendered timeline with bands, curves and labels compresses to tens of KiB; a blank or
// failed capture is a few KiB.
constexpr std::size_t timeline_png_bytes_min = 20'000;

std::string source_dir() {
  return test::source_dir().string();
}

// The chromium binary: $S3CHAOS_CHROMIUM, else the first of the usual names on $PATH.
std::string find_chromium() {
  if (const char* configured = std::getenv("S3CHAOS_CHROMIUM")) {
    return ::access(configured, X_OK) == 0 ? configured : "";
  }
  const char* path = std::getenv("PATH");
  std::stringstream directories(path != nullptr ? path : "/usr/bin:/bin");
  std::string directory;
  while (std::getline(directories, directory, ':')) {
    for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
      const fs::path candidate = fs::path(directory) / name;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  return {};
}

std::string base64_decode(const std::string& text) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    if (c >= '0' && c <= '9') value = c - '0' + 52;
    if (c == '+') value = 62;
    if (c == '/') value = 63;
    if (value < 0) continue;
    buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

// The browser did not answer in time (as opposed to answering wrongly): the one failure that
// earns a second launch, since it is about the machine's load, not about the page.
class BrowserTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One headless Chromium driven over --remote-debugging-pipe: requests go to its fd 3, replies
// and events come from its fd 4, each a JSON message ended by a NUL byte.
class Browser {
 public:
  Browser(const std::string& binary, const fs::path& work_dir)
      : deadline_(std::chrono::steady_clock::now() + browser_budget) {
    const fs::path profile = work_dir / "profile";
    fs::create_directories(profile);
    log_path_ = work_dir / "chromium.log";
    int to_browser[2];
    int from_browser[2];
    if (::pipe(to_browser) != 0 || ::pipe(from_browser) != 0) {
      throw std::runtime_error("pipe failed");
    }
    const std::vector<std::string> arguments = {
        binary, "--headless", "--no-sandbox", "--disable-gpu",
        // Containers often give /dev/shm 64 MiB; a
        // large screenshot must not depend on it.
        "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--hide-scrollbars", "--remote-debugging-pipe", "--user-data-dir=" + profile.string(),
        "about:blank"};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // The child: fds 3 and 4 are the protocol pipe, output goes to a log file.
      const int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log >= 0) {
        ::dup2(log, 1);
        ::dup2(log, 2);
      }
      const int read_end = ::dup(to_browser[0]);
      const int write_end = ::dup(from_browser[1]);
      ::dup2(read_end, 3);
      ::dup2(write_end, 4);
      for (int fd = 5; fd < 256; ++fd) ::close(fd);
      std::vector<char*> argv;
      for (const auto& argument : arguments) argv.push_back(const_cast<char*>(argument.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(to_browser[0]);
    ::close(from_browser[1]);
    write_fd_ = to_browser[1];
    read_fd_ = from_browser[0];
  }

  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  ~Browser() {
    if (write_fd_ >= 0) {
      try {
        send("Browser.close", json::object(), "");
      } catch (...) {
      }
      ::close(write_fd_);
    }
    if (read_fd_ >= 0) ::close(read_fd_);
    // Give it a moment to exit by itself, then end it (only the process we started).
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      ::usleep(100'000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }

  // Sends a command and waits for its reply; events that arrive meanwhile are kept.
  json call(const std::string& method, const json& params, const std::string& session) {
    const int id = send(method, params, session);
    while (true) {
      const json message = next_message(method);
      if (message.contains("id") && message["id"] == id) {
        if (message.contains("error")) {
          throw std::runtime_error(method + " failed: " + message["error"].dump());
        }
        return message.value("result", json::object());
      }
      events_.push_back(message);
    }
  }

  // Waits for an event with this method (already received or still to come).
  json wait_for_event(const std::string& method) {
    for (const json& event : events_) {
      if (event.value("method", "") == method) return event;
    }
    while (true) {
      const json message = next_message(method);
      events_.push_back(message);
      if (message.value("method", "") == method) return message;
    }
  }

  const std::vector<json>& events() const { return events_; }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  std::string log_tail() const {
    constexpr std::size_t tail_bytes = 4'000;
    const std::string text = log();
    return text.size() <= tail_bytes ? text : "..." + text.substr(text.size() - tail_bytes);
  }

 private:
  int send(const std::string& method, const json& params, const std::string& session) {
    json message = {{"id", ++last_id_}, {"method", method}, {"params", params}};
    if (!session.empty()) message["sessionId"] = session;
    const std::string bytes = message.dump() + '\0';
    std::size_t written = 0;
    while (written < bytes.size()) {
      const ssize_t n = ::write(write_fd_, bytes.data() + written, bytes.size() - written);
      if (n <= 0) throw std::runtime_error("the browser closed its pipe");
      written += static_cast<std::size_t>(n);
    }
    return last_id_;
  }

  // `awaited` names the reply or event waited for, so a timeout says which step hung.
  json next_message(const std::string& awaited) {
    while (true) {
      const std::size_t end = buffer_.find('\0');
      if (end != std::string::npos) {
        const std::string text = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return json::parse(text);
      }
      const auto left = deadline_ - std::chrono::steady_clock::now();
      const auto left_ms = std::chrono::duration_cast<std::chrono::milliseconds>(left).count();
      if (left_ms <= 0) {
        throw BrowserTimeout("the browser did not answer " + awaited + " within " +
                             std::to_string(browser_budget.count()) + " s; its log:\n" +
                             log_tail());
      }
      pollfd poll_fd{read_fd_, POLLIN, 0};
      if (::poll(&poll_fd, 1, static_cast<int>(left_ms)) <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::read(read_fd_, chunk, sizeof chunk);
      if (n <= 0) throw std::runtime_error("the browser exited; its log:\n" + log());
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

  std::chrono::steady_clock::time_point deadline_;
  fs::path log_path_;
  pid_t pid_ = -1;
  int write_fd_ = -1;
  int read_fd_ = -1;
  int last_id_ = 0;
  std::string buffer_;
  std::vector<json> events_;
};

// What the browser saw of one page.
struct PageFindings {
  std::vector<std::string> console_errors;    // console calls, exceptions, error log entries
  std::vector<std::string> outside_requests;  // any request that is not file:
  json elements;                              // id -> {present, visible, width, height}
  bool overflows_laptop = true;               // horizontal scrolling at laptop_width_px
  bool overflows_narrow_laptop = true;        // ... and at narrow_laptop_width_px
  std::string timeline_png;                   // empty when there is no #timeline
};

// In the page: for each id, whether the element exists, has a box and is not hidden.
std::string visibility_expression(const std::vector<std::string>& ids) {
  return "JSON.stringify(Object.fromEntries(" + json(ids).dump() +
         ".map(id => { const e = document.getElementById(id); if (!e) return [id, {present: "
         "false, visible: false}]; const r = e.getBoundingClientRect(); let visible = r.width > "
         "0 && r.height > 0; for (let n = e; n && n.nodeType === 1; n = n.parentElement) { const "
         "s = getComputedStyle(n); if (s.display === 'none' || s.visibility === 'hidden' || "
         "s.opacity === '0') visible = false; } return [id, {present: true, visible, width: "
         "r.width, height: r.height}]; })))";
}

PageFindings load_page_once(const std::string& chromium, const fs::path& work_dir,
                            const fs::path& page, const std::vector<std::string>& ids) {
  Browser browser(chromium, work_dir);
  const json target = browser.call("Target.createTarget", {{"url", "about:blank"}}, "");
  const json attached = browser.call("Target.attachToTarget",
                                     {{"targetId", target["targetId"]}, {"flatten", true}}, "");
  const std::string session = attached["sessionId"].get<std::string>();
  for (const char* domain : {"Runtime.enable", "Log.enable", "Network.enable", "Page.enable"}) {
    browser.call(domain, json::object(), session);
  }
  const auto set_width = [&](int width) {
    browser.call("Emulation.setDeviceMetricsOverride",
                 {{"width", width},
                  {"height", laptop_height_px},
                  {"deviceScaleFactor", 1},
                  {"mobile", false}},
                 session);
  };
  const auto evaluate = [&](const std::string& expression) {
    const json result = browser.call(
        "Runtime.evaluate", {{"expression", expression}, {"returnByValue", true}}, session);
    if (result.contains("exceptionDetails")) {
      throw std::runtime_error("evaluate failed: " + result["exceptionDetails"].dump());
    }
    return result["result"]["value"];
  };
  set_width(laptop_width_px);
  browser.call("Page.navigate", {{"url", "file://" + fs::absolute(page).string()}}, session);
  browser.wait_for_event("Page.loadEventFired");

  PageFindings findings;
  findings.elements = json::parse(evaluate(visibility_expression(ids)).get<std::string>());
  const std::string overflow =
      "document.documentElement.scrollWidth > document.documentElement.clientWidth";
  findings.overflows_laptop = evaluate(overflow).get<bool>();
  if (evaluate("!!document.getElementById('timeline')").get<bool>()) {
    const json box = json::parse(
        evaluate("JSON.stringify((r => ({x: r.left + scrollX, y: r.top + scrollY, width: "
                 "r.width, height: r.height}))(document.getElementById('timeline')"
                 ".getBoundingClientRect()))")
            .get<std::string>());
    const json shot = browser.call("Page.captureScreenshot",
                                   {{"format", "png"},
                                    {"captureBeyondViewport", true},
                                    {"clip",
                                     {{"x", box["x"]},
                                      {"y", box["y"]},
                                      {"width", box["width"]},
                                      {"height", box["height"]},
                                      {"scale", 1}}}},
                                   session);
    findings.timeline_png = base64_decode(shot["data"].get<std::string>());
  }
  set_width(narrow_laptop_width_px);
  findings.overflows_narrow_laptop = evaluate(overflow).get<bool>();

  for (const json& event : browser.events()) {
    const std::string method = event.value("method", "");
    const json params = event.value("params", json::object());
    if (method == "Runtime.consoleAPICalled") {
      findings.console_errors.push_back("console." + params.value("type", "") + ": " +
                                        params.value("args", json::array()).dump());
    } else if (method == "Runtime.exceptionThrown") {
      findings.console_errors.push_back("exception: " + params.dump());
    } else if (method == "Log.entryAdded") {
      const json entry = params.value("entry", json::object());
      if (entry.value("level", "") == "error") {
        findings.console_errors.push_back("log: " + entry.value("text", ""));
      }
    } else if (method == "Network.requestWillBeSent") {
      const std::string url = params["request"].value("url", "");
      if (!url.starts_with("file:")) findings.outside_requests.push_back(url);
    }
  }
  return findings;
}

// Loads the page; a browser that does not answer in time is ended and started once more in a
// fresh profile, and the first attempt's log is printed. Any other failure counts at once.
PageFindings load_page(const std::string& chromium, const fs::path& work_dir, const fs::path& page,
                       const std::vector<std::string>& ids) {
  try {
    return load_page_once(chromium, work_dir, page, ids);
  } catch (const BrowserTimeout& timeout) {
    std::cerr << "first browser attempt timed out, starting a fresh one: " << timeout.what()
              << "\n";
  }
  fs::remove_all(work_dir / "profile");
  return load_page_once(chromium, work_dir, page, ids);
}

// A fresh directory for one test's files and browser profile, removed however the test ends.
class WorkDir {
 public:
  explicit WorkDir(const std::string& name)
      : path_(fs::temp_directory_path() /
              ("s3chaos-reports-browser-" + name + "-" + std::to_string(::getpid()))) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string chromium_or_fail() {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    ADD_FAILURE() << "chromium is not installed: the browser test needs headless Chromium "
                     "(Debian package `chromium`; scripts/setup installs it, or run "
                     "`apt-get install -y chromium`), or set S3CHAOS_CHROMIUM to a Chrome binary"
                  << (std::getenv("S3CHAOS_CHROMIUM") != nullptr
                          ? std::string(" (S3CHAOS_CHROMIUM=") + std::getenv("S3CHAOS_CHROMIUM") +
                                " is not an executable)"
                          : std::string());
  }
  return chromium;
}

json load_json(const std::string& relative) {
  std::ifstream in(source_dir() + "/" + relative);
  if (!in) throw std::runtime_error("cannot open " + relative);
  return json::parse(in);
}

TEST(Browser, RunReportLoadsCleanAndShowsItsKeyElements) {
  // Proves in a real browser: the violated example's report loads from file:// with no console
  // error and no request leaving the file, its verdict, timeline, legend, close-up and replay
  // command are visible at 1280 px without horizontal scrolling (and at 1024 px), and the
  // timeline's screenshot is a real picture, saved as reports_browser_timeline.png.
  const std::string chromium = chromium_or_fail();
  if (chromium.empty()) return;
  const WorkDir work("run");
  const fs::path& dir = work.path();
  const fs::path page = dir / "report.html";
  std::ofstream(page) << render_run_report(
      load_json("reports/examples/photoshare-2008-07-20-naive-2008.json"));
  const std::vector<std::string> ids = {"verdict",        "verdict-headline", "counts",
                                        "checks-table",   "lost-ids",         "timeline-svg",
                                        "legend",         "closeup-svg",      "lost-table",
                                        "counterexample", "replay-command",   "trace-hash"};
  const PageFindings findings = load_page(chromium, dir, page, ids);
  EXPECT_TRUE(findings.console_errors.empty()) << json(findings.console_errors).dump(2);
  EXPECT_TRUE(findings.outside_requests.empty()) << json(findings.outside_requests).dump(2);
  for (const std::string& id : ids) {
    EXPECT_TRUE(findings.elements[id]["visible"].get<bool>())
        << id << ": " << findings.elements[id].dump();
  }
  // The timeline spans the content width: it scales with the page, it is not a thumbnail.
  EXPECT_GT(findings.elements["timeline-svg"]["width"].get<double>(), 900.0);
  EXPECT_FALSE(findings.overflows_laptop);
  EXPECT_FALSE(findings.overflows_narrow_laptop);
  ASSERT_GE(findings.timeline_png.size(), timeline_png_bytes_min);
  EXPECT_EQ(findings.timeline_png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  std::ofstream("reports_browser_timeline.png", std::ios::binary) << findings.timeline_png;
}

TEST(Browser, SweepReportLoadsClean) {
  // Proves the compare sweep's index page loads with no console error or outside request and
  // shows its verdict and both tables.
  const std::string chromium = chromium_or_fail();
  if (chromium.empty()) return;
  const WorkDir work("sweep");
  const fs::path& dir = work.path();
  const fs::path page = dir / "index.html";
  std::ofstream(page) << render_sweep_report(
      load_json("reports/examples/photoshare-2008-07-20-compare.json"));
  const std::vector<std::string> ids = {"verdict", "policy-summary", "compare-table", "runs-table"};
  const PageFindings findings = load_page(chromium, dir, page, ids);
  EXPECT_TRUE(findings.console_errors.empty()) << json(findings.console_errors).dump(2);
  EXPECT_TRUE(findings.outside_requests.empty()) << json(findings.outside_requests).dump(2);
  for (const std::string& id : ids) {
    EXPECT_TRUE(findings.elements[id]["visible"].get<bool>()) << id;
  }
  EXPECT_FALSE(findings.overflows_laptop);
}

TEST(Browser, ControlPageWithErrorsIsCaught) {
  // Proves the checks above can fail: a page with a console error, an uncaught exception, a
  // request to a server and a hidden verdict is reported on all four counts.
  const std::string chromium = chromium_or_fail();
  if (chromium.empty()) return;
  const WorkDir work("control");
  const fs::path& dir = work.path();
  const fs::path page = dir / "control.html";
  std::ofstream(page)
      << "<!DOCTYPE html><html><head><title>control</title></head><body>"
         "<div id=\"verdict\" style=\"display:none\">hidden</div><p id=\"shown\">shown</p>"
         "<img src=\"http://127.0.0.1:9/leak.png\" alt=\"\"/>"
         "<script>console.error('control error'); throw new Error('control exception');"
         "</script></body></html>";
  const PageFindings findings = load_page(chromium, dir, page, {"verdict", "shown", "absent"});
  EXPECT_GE(findings.console_errors.size(), 2u) << json(findings.console_errors).dump(2);
  ASSERT_EQ(findings.outside_requests.size(), 1u);
  EXPECT_EQ(findings.outside_requests[0], "http://127.0.0.1:9/leak.png");
  EXPECT_FALSE(findings.elements["verdict"]["visible"].get<bool>());
  EXPECT_TRUE(findings.elements["shown"]["visible"].get<bool>());
  EXPECT_FALSE(findings.elements["absent"]["present"].get<bool>());
}

}  // namespace
}  // namespace s3chaos::reports
