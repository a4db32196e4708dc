#!/usr/bin/python3
"""The HTTP bench of issue 6: 4 KiB PUT and GET against fake-s3 (SigV4 verified on every
request), s3rver (the npm package, a popular local S3 fake) and nginx serving a 4 KiB static
file (the ceiling for an HTTP server on this machine), all in one run with the same load
generator (build/bin/http-load-bench), the same connection count and the same duration.
Prints a table of requests per second and p50/p99 latency, and the ratios the issue aims at:
fake-s3 GET / nginx GET (aim >= 0.5), fake-s3 GET / s3rver GET and fake-s3 PUT / s3rver PUT
(aim >= 10).

usage: bench/http_bench.py [--build DIR] [--connections N] [--seconds S] [--rounds R]
                           [--json FILE]

The five measurements (nginx GET, fake-s3 PUT and GET, s3rver PUT and GET) run one after the
other, and the whole sequence is repeated --rounds times; each figure is the median over the
rounds, so a burst of load from elsewhere on the machine moves one round, not one server.

Servers: fake-s3 in memory (no --data-dir), its default two I/O threads; s3rver under node
(one thread, as it always runs) with its data in a temporary directory (on /dev/shm when there
is one, so its disk is memory too); nginx with one worker process per core, access log off,
sendfile on. Each runs as this script's own child on a free loopback port and is stopped by
its PID.
"""

import argparse
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(HERE)
OBJECT_BYTES = 4096
START_SECONDS_MAX = 30
ACCESS_KEY = "AKIABENCH00000000001"
SECRET_KEY = "bench/secret/key/0123456789abcdefghijklm"
LISTENING = re.compile(r"^listening on http://([0-9.]+):([0-9]+)\s*$")


class Server:
    """A child server process; `url` is http://127.0.0.1:PORT once it is ready."""

    def __init__(self, name, command, work, url=None, cwd=None):
        self.name = name
        self.log_path = os.path.join(work, f"{name}.log")
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                        cwd=cwd, start_new_session=True)
        self.url = url if url else self._read_listening_line()
        if url:
            self._wait_for_port(url)

    def _read_listening_line(self):
        deadline = time.monotonic() + START_SECONDS_MAX
        pending = b""
        while time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                pending += os.read(self.process.stdout.fileno(), 4096)
                if b"\n" in pending:
                    line = pending.split(b"\n", 1)[0].decode(errors="replace")
                    match = LISTENING.match(line)
                    if not match:
                        self.stop()
                        sys.exit(f"http_bench: {self.name} printed {line!r}, not its listening line")
                    return f"http://{match.group(1)}:{match.group(2)}"
        self.stop()
        sys.exit(f"http_bench: {self.name} did not start; see {self.log_path}")

    def _wait_for_port(self, url):
        host, port = url.removeprefix("http://").split(":")
        deadline = time.monotonic() + START_SECONDS_MAX
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"http_bench: {self.name} exited; see {self.log_path}")
            try:
                socket.create_connection((host, int(port)), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"http_bench: {self.name} did not accept connections; see {self.log_path}")

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def free_port():
    """A port that was free a moment ago (nginx cannot be told to pick one itself)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_nginx(work):
    nginx = shutil.which("nginx", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
    if nginx is None:
        sys.exit("http_bench: nginx is not installed (scripts/setup installs it)")
    root = os.path.join(work, "nginx-root")
    os.makedirs(root)
    with open(os.path.join(root, "object.bin"), "wb") as out:
        out.write(bytes((ord("a") + (index * 7919) % 26) for index in range(OBJECT_BYTES)))
    port = free_port()
    config = os.path.join(work, "nginx.conf")
    with open(config, "w") as out:
        out.write(f"""
worker_processes auto;
daemon off;
master_process on;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path {work}/nginx-body;
  proxy_temp_path {work}/nginx-proxy;
  fastcgi_temp_path {work}/nginx-fastcgi;
  uwsgi_temp_path {work}/nginx-uwsgi;
  scgi_temp_path {work}/nginx-scgi;
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{port};
    root {root};
  }}
}}
""")
    return Server("nginx", [nginx, "-c", config, "-e", f"{work}/nginx-error.log"], work,
                  url=f"http://127.0.0.1:{port}")


def load(generator, url, method, arguments, extra):
    command = [generator, "--url", url, "--method", method, "--connections",
               str(arguments.connections), "--seconds", str(arguments.seconds),
               "--warmup-seconds", str(arguments.warmup_seconds), "--object-bytes",
               str(OBJECT_BYTES), "--json", *extra]
    result = subprocess.run(command, capture_output=True, text=True,
                            timeout=arguments.seconds + arguments.warmup_seconds + 120)
    line = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    figures = json.loads(line)
    figures["ok"] = result.returncode == 0
    if result.returncode != 0:
        figures["failure"] = (result.stderr.strip() or "no output")[-500:]
    return figures


def median_figures(runs):
    """Each figure's median over the rounds (figures of one cell, one dict per round)."""
    def median(values):
        ordered = sorted(values)
        return ordered[len(ordered) // 2] if ordered else 0

    merged = {
        key: median([run.get(key, 0) for run in runs])
        for key in ("requests_per_second", "latency_us_p50", "latency_us_p99")
    }
    merged["errors"] = sum(run.get("errors", 0) for run in runs)
    merged["rounds_requests_per_second"] = [round(run.get("requests_per_second", 0))
                                            for run in runs]
    merged["ok"] = all(run["ok"] for run in runs)
    failures = [run["failure"] for run in runs if "failure" in run]
    if failures:
        merged["failure"] = failures[0]
    return merged


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(SOURCE_DIR, "build"),
                        help="build directory holding bin/fake-s3 and bin/http-load-bench")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--warmup-seconds", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    arguments = parser.parse_args()

    generator = os.path.join(arguments.build, "bin", "http-load-bench")
    fake_s3 = os.path.join(arguments.build, "bin", "fake-s3")
    node_tools = os.path.join(SOURCE_DIR, "tools", "node")
    for path in (generator, fake_s3):
        if not os.access(path, os.X_OK):
            sys.exit(f"http_bench: {path} is missing; build it first "
                     f"(cmake --build {arguments.build} --target fake-s3 http-load-bench)")
    if not os.path.isdir(os.path.join(node_tools, "node_modules", "s3rver")):
        sys.exit("http_bench: tools/node/node_modules/s3rver is missing; run scripts/setup")

    memory = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    work = tempfile.mkdtemp(prefix="s3chaos-http-bench-", dir=memory)
    # nginx's worker runs as nobody when started by root: it must be able to read the file.
    os.chmod(work, 0o755)
    servers = []
    results = {}
    try:
        servers.append(Server("fake-s3", [fake_s3, "--host", "127.0.0.1", "--port", "0",
                                          "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY],
                              work))
        os.makedirs(os.path.join(work, "s3rver-data"))
        servers.append(Server("s3rver", ["node", "--openssl-legacy-provider",
                                         os.path.join(node_tools, "s3rver_listen.js"),
                                         "--directory", os.path.join(work, "s3rver-data")],
                              work))
        servers.append(start_nginx(work))
        fake, s3rver, nginx = servers
        signed_fake = ["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY]
        signed_s3rver = ["--access-key", "S3RVER", "--secret-key", "S3RVER"]
        plan = [
            ("nginx", "GET", nginx.url, ["--unsigned", "--target", "/object.bin"]),
            ("fake-s3", "PUT", fake.url, signed_fake),
            ("fake-s3", "GET", fake.url, signed_fake),
            ("s3rver", "PUT", s3rver.url, signed_s3rver),
            ("s3rver", "GET", s3rver.url, signed_s3rver),
        ]
        rounds = {}
        for round_index in range(arguments.rounds):
            for name, method, url, extra in plan:
                print(f"http_bench: round {round_index + 1}/{arguments.rounds}: {name} {method} "
                      f"({arguments.connections} connections, {arguments.seconds:g} s)...",
                      file=sys.stderr, flush=True)
                rounds.setdefault((name, method), []).append(
                    load(generator, url, method, arguments, extra))
        for cell, runs in rounds.items():
            results[cell] = median_figures(runs)
    finally:
        for server in servers:
            server.stop()
    shutil.rmtree(work, ignore_errors=True)

    print(f"4 KiB objects, {arguments.connections} keep-alive connections, "
          f"{arguments.seconds:g} s per measurement, median of {arguments.rounds} rounds, one "
          f"client (http-load-bench), {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'server':<9} {'op':<4} {'req/s':>9} {'p50 us':>8} {'p99 us':>8} {'errors':>7}  "
          f"req/s per round")
    for (name, method), figures in results.items():
        print(f"{name:<9} {method:<4} {figures.get('requests_per_second', 0):>9.0f} "
              f"{figures.get('latency_us_p50', 0):>8} {figures.get('latency_us_p99', 0):>8} "
              f"{figures.get('errors', '-'):>7}  {figures['rounds_requests_per_second']}"
              + ("" if figures["ok"] else f"  FAILED: {figures.get('failure', '')}"))

    def rate(name, method):
        return results[(name, method)].get("requests_per_second", 0.0)

    ratios = [
        ("fake-s3 GET / nginx GET", rate("fake-s3", "GET"), rate("nginx", "GET"), 0.5),
        ("fake-s3 GET / s3rver GET", rate("fake-s3", "GET"), rate("s3rver", "GET"), 10.0),
        ("fake-s3 PUT / s3rver PUT", rate("fake-s3", "PUT"), rate("s3rver", "PUT"), 10.0),
    ]
    print()
    summary = {"results": [dict(figures, server=name, method=method)
                           for (name, method), figures in results.items()], "ratios": []}
    for label, top, bottom, aim in ratios:
        ratio = top / bottom if bottom else 0.0
        verdict = "meets" if ratio >= aim else "misses"
        print(f"{label:<26} {ratio:6.2f}   (aim >= {aim:g}: {verdict})")
        summary["ratios"].append({"ratio": label, "value": ratio, "aim": aim})
    if arguments.json:
        with open(arguments.json, "w") as out:
            json.dump(summary, out, indent=2)
    return 0 if all(figures["ok"] for figures in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
