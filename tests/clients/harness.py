"""Shared pieces of the real-client tests: start an S3 server on a free loopback port, run a
client command with a time limit, and fail with a message that says what was sent, what was
expected and what came back.

A server is started from a command that prints one line "listening on http://HOST:PORT" to
stdout once it is ready (fake-s3's contract; tools/node/s3rver_listen.js gives s3rver the same
one). It is stopped by its PID: SIGTERM, then SIGKILL if it has not exited after a grace period.
Runs under Debian's /usr/bin/python3 with the standard library only.
"""

import hashlib
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time

# Every limit in one place; a client command that takes longer than this is a failure.
SERVER_START_SECONDS_MAX = 30
SERVER_STOP_SECONDS_MAX = 10
CLIENT_COMMAND_SECONDS_MAX = 60
SLOW_COMMAND_SECONDS = 5

# ctest's SKIP_RETURN_CODE: the client under test is not installed on this machine.
EXIT_SKIPPED = 77

LISTENING_PATTERN = re.compile(r"^listening on (http://[0-9.]+:([0-9]+))\s*$")


class CheckFailed(Exception):
    """A client did not see what a real S3 would have given it."""


# Failed value checks of the current test. A check records its failure and lets the test go
# on, so one run lists every place the server disagrees with S3; a failed command, which later
# steps depend on, stops the test at once (CheckFailed).
FAILURES = []


def check(condition, what, expected=None, got=None, fatal=False):
    """Records a failure `what`, with the expected and actual values when given; raises
    CheckFailed instead when `fatal`."""
    if condition:
        return True
    message = what
    if expected is not None or got is not None:
        message += f"\n  expected: {expected!r}\n  got:      {got!r}"
    if fatal:
        raise CheckFailed(message)
    FAILURES.append(message)
    print(f"check failed: {message}", file=sys.stderr)
    return False


def check_equal(got, expected, what):
    return check(got == expected, what, expected=expected, got=got)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def multipart_etag(data, part_size_bytes):
    """S3's ETag of an object uploaded in parts of `part_size_bytes` (the last may be shorter):
    the MD5 of the concatenated binary part MD5s, a dash, the part count, in double quotes."""
    digests = b""
    count = 0
    for offset in range(0, len(data), part_size_bytes):
        digests += hashlib.md5(data[offset : offset + part_size_bytes]).digest()
        count += 1
    return f'"{hashlib.md5(digests).hexdigest()}-{count}"'


def test_bytes(size_bytes, seed):
    """Deterministic bytes that are not all alike (so a swapped or shifted range shows)."""
    out = bytearray()
    counter = 0
    while len(out) < size_bytes:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size_bytes])


class Server:
    """A running S3 server; use as a context manager. `endpoint` is "http://127.0.0.1:PORT"."""

    def __init__(self, command, env, log_path):
        self.command = command
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self.log, env=env, start_new_session=True
        )
        self.endpoint = None
        self.port = None
        try:
            self._read_listening_line()
        except Exception:
            self.stop()
            raise

    def _read_listening_line(self):
        deadline = time.monotonic() + SERVER_START_SECONDS_MAX
        pending = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                pending += chunk
                if b"\n" in pending:
                    line = pending.split(b"\n", 1)[0].decode(errors="replace")
                    match = LISTENING_PATTERN.match(line)
                    check(
                        match is not None,
                        f"server {self.command[0]}: first stdout line",
                        expected="listening on http://HOST:PORT",
                        got=line,
                        fatal=True,
                    )
                    self.endpoint = match.group(1)
                    self.port = int(match.group(2))
                    return
            elif self.process.poll() is not None:
                break
        raise CheckFailed(
            f"server {' '.join(self.command)} did not print its listening line within "
            f"{SERVER_START_SECONDS_MAX} s (exit status {self.process.poll()}); "
            f"stderr: {self.stderr_tail()}"
        )

    def stderr_tail(self, bytes_max=2000):
        self.log.flush()
        with open(self.log_path, "rb") as log:
            return log.read()[-bytes_max:].decode(errors="replace")

    def stop(self):
        """Stops the server by its PID; returns its exit status (None if it had to be killed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(SERVER_STOP_SECONDS_MAX)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self.log.close()
                return None
        self.log.close()
        return self.process.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def run(command, env, what, timeout=CLIENT_COMMAND_SECONDS_MAX, expect_status=0, stdin=None):
    """Runs one client command with a time limit; fails unless it exits with `expect_status`
    (None accepts any). Returns the CompletedProcess with text stdout and stderr."""
    started = time.monotonic()
    try:
        result = subprocess.run(
            command,
            env=env,
            capture_output=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL if stdin is None else stdin,
        )
    except subprocess.TimeoutExpired as error:
        raise CheckFailed(
            f"{what}: `{' '.join(command)}` did not finish within {timeout} s\n"
            f"  stdout: {(error.stdout or b'')[-4000:].decode(errors='replace')}\n"
            f"  stderr: {(error.stderr or b'')[-4000:].decode(errors='replace')}"
        )
    stdout = result.stdout.decode(errors="replace")
    stderr = result.stderr.decode(errors="replace")
    if expect_status is not None and result.returncode != expect_status:
        raise CheckFailed(
            f"{what}: `{' '.join(command)}` exited {result.returncode}, expected {expect_status}\n"
            f"  stdout: {stdout[-4000:]}\n  stderr: {stderr[-4000:]}"
        )
    result.stdout = stdout
    result.stderr = stderr
    result.seconds = time.monotonic() - started
    if result.seconds > SLOW_COMMAND_SECONDS:
        # Not a failure (the machine may be busy), but a stall worth seeing in the log.
        print(f"slow: {what} took {result.seconds:.1f} s", file=sys.stderr)
    return result


def isolated_environment(home, access_key, secret_key):
    """An environment with no user configuration leaking in: HOME is a fresh directory, AWS
    config and credential files point into it, proxies and instance metadata are off."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "RCLONE_", "S3CMD", "HTTP_PROXY", "HTTPS_PROXY"))
        and key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
    }
    env.update(
        {
            "HOME": home,
            "AWS_ACCESS_KEY_ID": access_key,
            "AWS_SECRET_ACCESS_KEY": secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.path.join(home, "aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": os.path.join(home, "aws-credentials"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


def make_workdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def fail_exit(message):
    print(f"FAILED: {message}", file=sys.stderr)
    sys.exit(1)
