#!/usr/bin/python3
"""Runs one real S3 client, unmodified, against a freshly started server and checks what it saw.

usage: run.py CLIENT (--fake-s3 PATH | --s3rver) [--node-tools DIR] [--keep]

CLIENT is one of: aws (Debian's /usr/bin/aws), aws-pyenv (an aws-cli 1.x on PATH other than
Debian's, which sends the modern default checksums), boto3 (Debian's /usr/bin/python3 with
python3-boto3), boto3-pyenv (another python3 on PATH that has boto3), s3cmd, rclone, sdk-js
(@aws-sdk/client-s3 v3 from tools/node). The server is fake-s3 (the binary given) or s3rver (the
npm package, for checking these scripts against a peer). Only the endpoint and the credentials
are configured; everything else is each client's default.

Exit status: 0 every check held, 1 a check failed (the message says the request, what was
expected and what came back), 77 the client is not installed here (ctest counts it skipped).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (  # noqa: E402
    EXIT_SKIPPED,
    FAILURES,
    CheckFailed,
    Server,
    check,
    check_equal,
    isolated_environment,
    make_workdir,
    md5_hex,
    multipart_etag,
    run,
    test_bytes,
)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))

FAKE_S3_ACCESS_KEY = "AKIACLIENTSTEST00001"
FAKE_S3_SECRET_KEY = "clients/test/secret/key/0123456789abcdefghij"
S3RVER_KEY = "S3RVER"  # s3rver accepts only this access key, with the same secret

# aws-cli's default multipart threshold and part size (both 8 MiB): a 9 MiB file goes in two
# parts, 8 MiB and 1 MiB.
AWS_CLI_PART_BYTES = 8 * 1024 * 1024
AWS_CLI_MULTIPART_FILE_BYTES = 9 * 1024 * 1024


def other_on_path(name, debian_path):
    """The first `name` on PATH (or under ~/.pyenv/shims) that is not Debian's copy."""
    candidates = []
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidates.append(os.path.join(directory, name))
    candidates.append(os.path.expanduser(f"~/.pyenv/shims/{name}"))
    for candidate in candidates:
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        if os.path.realpath(candidate) == os.path.realpath(debian_path):
            continue
        if os.sep + "shims" + os.sep in candidate:
            # A pyenv shim: run the program it stands for, not pyenv's dispatcher (which costs
            # a start-up per command and depends on pyenv's own environment).
            pyenv = shutil.which("pyenv") or os.path.expanduser("~/.pyenv/bin/pyenv")
            if os.access(pyenv, os.X_OK):
                resolved = subprocess.run([pyenv, "which", name], capture_output=True, text=True,
                                          timeout=30)
                target = resolved.stdout.strip()
                if resolved.returncode == 0 and os.access(target, os.X_OK):
                    return target
        return candidate
    return None


def skip(message):
    print(f"SKIPPED: {message}")
    sys.exit(EXIT_SKIPPED)


# ---------------------------------------------------------------------------------------------
# aws-cli


def check_aws_cli(aws, server, env, work):
    version = run([aws, "--version"], env, "aws --version").stdout.strip()
    print(f"client: {version or '(no version line)'}")
    endpoint = ["--endpoint-url", server.endpoint]
    bucket = "clients-aws"

    def aws_run(arguments, what, **kwargs):
        return run([aws, *arguments, *endpoint], env, what, **kwargs)

    def aws_json(arguments, what):
        output = aws_run([*arguments, "--output", "json"], what).stdout
        try:
            return json.loads(output) if output.strip() else {}
        except json.JSONDecodeError:
            raise CheckFailed(f"{what}: the CLI printed no JSON: {output[:500]!r}")

    aws_run(["s3", "mb", f"s3://{bucket}"], "s3 mb (CreateBucket)")

    # s3 cp up and down: the bytes round-trip.
    small = test_bytes(100_000, "aws-small")
    small_path = os.path.join(work, "small.bin")
    with open(small_path, "wb") as out:
        out.write(small)
    aws_run(["s3", "cp", small_path, f"s3://{bucket}/dir/small.bin"], "s3 cp upload")
    back_path = os.path.join(work, "small.back")
    aws_run(["s3", "cp", f"s3://{bucket}/dir/small.bin", back_path], "s3 cp download")
    with open(back_path, "rb") as back:
        check(back.read() == small, "s3 cp: downloaded bytes differ from uploaded bytes")

    # A file over the multipart threshold goes up in parts; its ETag is the multipart one.
    big = test_bytes(AWS_CLI_MULTIPART_FILE_BYTES, "aws-big")
    big_path = os.path.join(work, "big.bin")
    with open(big_path, "wb") as out:
        out.write(big)
    aws_run(["s3", "cp", big_path, f"s3://{bucket}/dir/big.bin"], "s3 cp multipart upload")
    head = aws_json(["s3api", "head-object", "--bucket", bucket, "--key", "dir/big.bin"],
                    "s3api head-object of the multipart object")
    check_equal(head.get("ContentLength"), len(big), "head-object ContentLength (multipart)")
    check_equal(head.get("ETag"), multipart_etag(big, AWS_CLI_PART_BYTES),
                "head-object ETag of a 2-part upload (MD5 of part MD5s, -2)")
    big_back = os.path.join(work, "big.back")
    aws_run(["s3", "cp", f"s3://{bucket}/dir/big.bin", big_back], "s3 cp multipart download")
    with open(big_back, "rb") as back:
        check(back.read() == big, "s3 cp: multipart object downloaded with different bytes")

    # s3 ls lists both objects with their sizes.
    listing = aws_run(["s3", "ls", f"s3://{bucket}/dir/"], "s3 ls").stdout
    sizes = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 4:
            sizes[fields[3]] = int(fields[2])
    check_equal(sizes, {"small.bin": len(small), "big.bin": len(big)}, "s3 ls: names and sizes")
    buckets = aws_run(["s3", "ls"], "s3 ls (ListBuckets)").stdout
    check(bucket in buckets.split(), "s3 ls lists the bucket", expected=bucket, got=buckets)

    # s3 sync up, down, and up again (the second sync must find nothing to do: sizes and
    # modification times from the listing agree with the files).
    tree = {
        "a.txt": b"alpha\n",
        "nested/b.bin": test_bytes(20_000, "sync-b"),
        "nested/deeper/c with space.txt": b"gamma with a space in its key\n",
        "empty.txt": b"",
    }
    up = os.path.join(work, "sync-up")
    for name, data in tree.items():
        path = os.path.join(up, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(data)
    aws_run(["s3", "sync", up, f"s3://{bucket}/sync/"], "s3 sync upload")
    down = os.path.join(work, "sync-down")
    aws_run(["s3", "sync", f"s3://{bucket}/sync/", down], "s3 sync download")
    for name, data in tree.items():
        path = os.path.join(down, name)
        if check(os.path.isfile(path), f"s3 sync download: {name} missing"):
            with open(path, "rb") as back:
                check(back.read() == data, f"s3 sync download: {name} has different bytes")
    again = aws_run(["s3", "sync", up, f"s3://{bucket}/sync/"], "second s3 sync upload").stdout
    check_equal(again.strip(), "", "a second s3 sync of an unchanged tree uploads nothing")

    # s3api put-object / get-object / head-object: ETags are the body's MD5 in quotes.
    body = test_bytes(4096, "aws-api")
    body_path = os.path.join(work, "api.bin")
    with open(body_path, "wb") as out:
        out.write(body)
    put = aws_json(["s3api", "put-object", "--bucket", bucket, "--key", "api/obj.bin", "--body",
                    body_path, "--content-type", "application/x-test"], "s3api put-object")
    expected_etag = f'"{md5_hex(body)}"'
    check_equal(put.get("ETag"), expected_etag, "put-object ETag")
    got_path = os.path.join(work, "api.back")
    got = aws_json(["s3api", "get-object", "--bucket", bucket, "--key", "api/obj.bin", got_path],
                   "s3api get-object")
    check_equal(got.get("ETag"), expected_etag, "get-object ETag")
    check_equal(got.get("ContentLength"), len(body), "get-object ContentLength")
    with open(got_path, "rb") as back:
        check(back.read() == body, "get-object: bytes differ from put-object's")
    head = aws_json(["s3api", "head-object", "--bucket", bucket, "--key", "api/obj.bin"],
                    "s3api head-object")
    check_equal(head.get("ETag"), expected_etag, "head-object ETag")
    check_equal(head.get("ContentLength"), len(body), "head-object ContentLength")
    check_equal(head.get("ContentType"), "application/x-test", "head-object ContentType")
    missing = aws_run(["s3api", "head-object", "--bucket", bucket, "--key", "api/none"],
                      "s3api head-object of a missing key", expect_status=None)
    check(missing.returncode != 0 and "404" in missing.stderr,
          "head-object of a missing key fails with 404", expected="exit != 0, 404",
          got=(missing.returncode, missing.stderr[-300:]))

    # s3api list-objects-v2: one page of two keys with a continuation token, then the rest;
    # and the CLI's own pagination over pages of two.
    all_keys = sorted(["api/obj.bin", "dir/big.bin", "dir/small.bin"]
                      + [f"sync/{name}" for name in tree])
    first = aws_json(["s3api", "list-objects-v2", "--bucket", bucket, "--max-keys", "2",
                      "--no-paginate"], "s3api list-objects-v2 --max-keys 2")
    check_equal([item["Key"] for item in first.get("Contents", [])], all_keys[:2],
                "list-objects-v2 first page of two")
    check_equal(first.get("IsTruncated"), True, "list-objects-v2 first page IsTruncated")
    token = first.get("NextContinuationToken")
    check(bool(token), "list-objects-v2 first page has a NextContinuationToken", got=first,
          fatal=True)
    rest = aws_json(["s3api", "list-objects-v2", "--bucket", bucket, "--continuation-token",
                     token, "--no-paginate"], "s3api list-objects-v2 --continuation-token")
    check_equal([item["Key"] for item in rest.get("Contents", [])], all_keys[2:],
                "list-objects-v2 second page (after the continuation token)")
    paged = aws_json(["s3api", "list-objects-v2", "--bucket", bucket, "--page-size", "2"],
                     "s3api list-objects-v2 --page-size 2 (CLI pagination)")
    listed = {item["Key"]: (item["Size"], item["ETag"]) for item in paged.get("Contents", [])}
    check_equal(sorted(listed), all_keys, "list-objects-v2 over pages of two: every key once")
    check_equal(listed.get("api/obj.bin"), (len(body), expected_etag),
                "list-objects-v2 Size and ETag of api/obj.bin")
    prefixed = aws_json(["s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "sync/",
                         "--delimiter", "/"], "s3api list-objects-v2 --delimiter /")
    check_equal([item["Key"] for item in prefixed.get("Contents", [])],
                ["sync/a.txt", "sync/empty.txt"], "list-objects-v2 delimiter: keys")
    check_equal([item["Prefix"] for item in prefixed.get("CommonPrefixes", [])],
                ["sync/nested/"], "list-objects-v2 delimiter: common prefixes")

    # s3 rm --recursive and the bucket is empty again.
    aws_run(["s3", "rm", "--recursive", f"s3://{bucket}/"], "s3 rm --recursive")
    empty = aws_json(["s3api", "list-objects-v2", "--bucket", bucket],
                     "list-objects-v2 after s3 rm")
    check_equal(empty.get("Contents", []), [], "no keys left after s3 rm --recursive")
    aws_run(["s3", "rb", f"s3://{bucket}"], "s3 rb (DeleteBucket)")


# ---------------------------------------------------------------------------------------------
# s3cmd


def check_s3cmd(server, env, work, access_key, secret_key):
    s3cmd = shutil.which("s3cmd", path="/usr/bin:" + os.environ.get("PATH", ""))
    if s3cmd is None:
        skip("s3cmd is not installed (scripts/setup installs it)")
    host = server.endpoint.removeprefix("http://")
    config = os.path.join(work, "s3cmd.cfg")
    with open(config, "w") as out:
        out.write(
            "[default]\n"
            f"access_key = {access_key}\n"
            f"secret_key = {secret_key}\n"
            f"host_base = {host}\n"
            f"host_bucket = {host}\n"
            "use_https = False\n"
            "bucket_location = us-east-1\n"
        )
    base = [s3cmd, "--config", config, "--no-progress"]
    print("client: " + run([s3cmd, "--version"], env, "s3cmd --version").stdout.strip())
    bucket = "clients-s3cmd"
    run([*base, "mb", f"s3://{bucket}"], env, "s3cmd mb")

    small = test_bytes(50_000, "s3cmd-small")
    small_path = os.path.join(work, "small.bin")
    with open(small_path, "wb") as out:
        out.write(small)
    run([*base, "put", small_path, f"s3://{bucket}/small.bin"], env, "s3cmd put")
    # s3cmd's smallest part size is 5 MiB: a 6 MiB file goes up in two parts.
    big = test_bytes(6 * 1024 * 1024, "s3cmd-big")
    big_path = os.path.join(work, "big.bin")
    with open(big_path, "wb") as out:
        out.write(big)
    run([*base, "--multipart-chunk-size-mb=5", "put", big_path, f"s3://{bucket}/big.bin"], env,
        "s3cmd put (multipart, 5 MiB parts)")

    for name, data in (("small.bin", small), ("big.bin", big)):
        back = os.path.join(work, name + ".back")
        run([*base, "get", f"s3://{bucket}/{name}", back], env, f"s3cmd get {name}")
        with open(back, "rb") as file:
            check(file.read() == data, f"s3cmd get {name}: bytes differ")

    listing = run([*base, "ls", f"s3://{bucket}"], env, "s3cmd ls").stdout
    sizes = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[-1].startswith("s3://"):
            sizes[fields[-1]] = int(fields[2])
    check_equal(sizes, {f"s3://{bucket}/small.bin": len(small), f"s3://{bucket}/big.bin": len(big)},
                "s3cmd ls: objects and sizes")

    # --list-md5 prints each listed object's ETag, the MD5 of a single-part object; for a
    # multipart ETag (one with a dash) s3cmd asks HEAD for the whole file's MD5 that it stored
    # in the object's metadata (x-amz-meta-s3cmd-attrs) when it started the upload.
    md5_listing = run([*base, "ls", "--list-md5", f"s3://{bucket}"], env, "s3cmd ls --list-md5")
    etags = {}
    for line in md5_listing.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 5 and fields[-1].startswith("s3://"):
            etags[fields[-1]] = fields[3]
    check_equal(etags, {f"s3://{bucket}/small.bin": md5_hex(small),
                        f"s3://{bucket}/big.bin": md5_hex(big)},
                "s3cmd ls --list-md5: MD5s (ETag, or the metadata of a multipart object)")

    # s3cmd sync checks MD5s against the listing's ETags (and the md5 it stored in metadata).
    tree = {"one.txt": b"one\n", "sub/two.bin": test_bytes(3000, "s3cmd-two")}
    up = os.path.join(work, "sync")
    for name, data in tree.items():
        path = os.path.join(up, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(data)
    run([*base, "sync", up + "/", f"s3://{bucket}/sync/"], env, "s3cmd sync")
    again = run([*base, "sync", up + "/", f"s3://{bucket}/sync/"], env, "second s3cmd sync")
    check("upload:" not in again.stdout, "a second s3cmd sync of an unchanged tree uploads nothing",
          got=again.stdout)

    run([*base, "del", "--recursive", "--force", f"s3://{bucket}/"], env, "s3cmd del --recursive")
    left = run([*base, "ls", "--recursive", f"s3://{bucket}"], env, "s3cmd ls after del").stdout
    check_equal(left.strip(), "", "s3cmd ls after deleting everything")
    run([*base, "rb", f"s3://{bucket}"], env, "s3cmd rb")


# ---------------------------------------------------------------------------------------------
# rclone


def check_rclone(server, env, work, access_key, secret_key):
    rclone = shutil.which("rclone", path="/usr/bin:" + os.environ.get("PATH", ""))
    if rclone is None:
        skip("rclone is not installed (scripts/setup installs it)")
    env = dict(env)
    env.update(
        {
            "RCLONE_CONFIG": os.path.join(work, "rclone.conf"),
            "RCLONE_CONFIG_FAKE_TYPE": "s3",
            "RCLONE_CONFIG_FAKE_PROVIDER": "Other",
            "RCLONE_CONFIG_FAKE_ENDPOINT": server.endpoint,
            "RCLONE_CONFIG_FAKE_ACCESS_KEY_ID": access_key,
            "RCLONE_CONFIG_FAKE_SECRET_ACCESS_KEY": secret_key,
            "RCLONE_CONFIG_FAKE_REGION": "us-east-1",
        }
    )
    with open(env["RCLONE_CONFIG"], "w"):
        pass
    print("client: " + run([rclone, "version"], env, "rclone version").stdout.splitlines()[0])
    common = ["--retries", "1", "--low-level-retries", "1", "--contimeout", "10s",
              "--timeout", "30s"]
    bucket = "fake:clients-rclone"
    run([rclone, *common, "mkdir", bucket], env, "rclone mkdir")

    tree = {
        "a.txt": b"alpha\n",
        "b/c.bin": test_bytes(300_000, "rclone-c"),
        "b/d e+f.txt": b"a key with a space and a plus\n",
    }
    up = os.path.join(work, "up")
    for name, data in tree.items():
        path = os.path.join(up, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(data)
    # rclone's default upload cutoff is 200 MiB; a lower cutoff and chunk size (client flags,
    # not server settings) make a 6 MiB file go up in two parts.
    big = test_bytes(6 * 1024 * 1024, "rclone-big")
    with open(os.path.join(up, "big.bin"), "wb") as out:
        out.write(big)
    tree["big.bin"] = big
    run([rclone, *common, "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", "copy", up,
         bucket], env, "rclone copy (one object in two parts)")

    listing = json.loads(
        run([rclone, *common, "lsjson", "--recursive", "--files-only", "--hash", bucket], env,
            "rclone lsjson").stdout)
    listed = {item["Path"]: item for item in listing}
    check_equal(sorted(listed), sorted(tree), "rclone lsjson: every object once")
    for name, data in tree.items():
        check_equal(listed.get(name, {}).get("Size"), len(data), f"rclone lsjson Size of {name}")
        hashes = listed.get(name, {}).get("Hashes", {})
        check_equal(hashes.get("md5"), md5_hex(data), f"rclone lsjson MD5 of {name}")

    # rclone check compares sizes and MD5s (single-part ETags, or the md5 rclone stored in the
    # multipart object's metadata) of both sides.
    run([rclone, *common, "check", up, bucket], env, "rclone check (sizes and MD5s agree)")
    run([rclone, *common, "check", "--download", up, bucket], env,
        "rclone check --download (bytes agree)")
    cat = subprocess.run([rclone, *common, "cat", f"{bucket}/b/d e+f.txt"], env=env,
                         capture_output=True, timeout=60)
    check_equal(cat.stdout, tree["b/d e+f.txt"], "rclone cat of a key with a space and a plus")

    down = os.path.join(work, "down")
    run([rclone, *common, "copy", bucket, down], env, "rclone copy down")
    for name, data in tree.items():
        path = os.path.join(down, name)
        if check(os.path.isfile(path), f"rclone copy down: {name} missing"):
            with open(path, "rb") as back:
                check(back.read() == data, f"rclone copy down: {name} has different bytes")

    run([rclone, *common, "deletefile", f"{bucket}/a.txt"], env, "rclone deletefile")
    remaining = json.loads(
        run([rclone, *common, "lsjson", "--recursive", "--files-only", bucket], env,
            "rclone lsjson after deletefile").stdout)
    check_equal(sorted(item["Path"] for item in remaining), sorted(set(tree) - {"a.txt"}),
                "rclone lsjson after deleting a.txt")
    run([rclone, *common, "purge", bucket], env, "rclone purge (objects and bucket)")


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("client", choices=["aws", "aws-pyenv", "boto3", "boto3-pyenv", "s3cmd",
                                           "rclone", "sdk-js"])
    server_choice = parser.add_mutually_exclusive_group(required=True)
    server_choice.add_argument("--fake-s3", metavar="PATH", help="the fake-s3 binary to test")
    server_choice.add_argument("--s3rver", action="store_true",
                               help="run the checks against s3rver instead (the scripts' peer)")
    parser.add_argument("--node-tools", default=os.path.join(SOURCE_DIR, "tools", "node"),
                        help="the directory holding node_modules (default: tools/node)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    arguments = parser.parse_args()

    # Find the client first, so a missing one is a skip, not a server start.
    client_program = None
    if arguments.client == "aws":
        client_program = "/usr/bin/aws"
        if not os.path.exists(client_program):
            skip("Debian's /usr/bin/aws is not installed (scripts/setup installs awscli)")
    elif arguments.client == "aws-pyenv":
        client_program = other_on_path("aws", "/usr/bin/aws")
        if client_program is None:
            skip("no aws-cli other than Debian's on PATH")
    elif arguments.client == "boto3":
        client_program = "/usr/bin/python3"
        probe = subprocess.run([client_program, "-c", "import boto3"], capture_output=True)
        if probe.returncode != 0:
            skip("Debian's python3-boto3 is not installed (scripts/setup installs it)")
    elif arguments.client == "boto3-pyenv":
        client_program = other_on_path("python3", "/usr/bin/python3")
        if client_program is None or subprocess.run(
                [client_program, "-c", "import boto3"], capture_output=True).returncode != 0:
            skip("no python3 other than Debian's with boto3 on PATH")
    elif arguments.client == "sdk-js":
        client_program = shutil.which("node")
        module = os.path.join(arguments.node_tools, "node_modules", "@aws-sdk", "client-s3")
        if client_program is None or not os.path.isdir(module):
            # Not a skip: scripts/setup installs both, so their absence is a broken setup.
            print(f"FAILED: node or {module} is missing; run scripts/setup", file=sys.stderr)
            return 1

    work = make_workdir(f"s3chaos-clients-{arguments.client}-")
    if arguments.fake_s3:
        access_key, secret_key = FAKE_S3_ACCESS_KEY, FAKE_S3_SECRET_KEY
        command = [arguments.fake_s3, "--host", "127.0.0.1", "--port", "0",
                   "--access-key", access_key, "--secret-key", secret_key]
        server_name = "fake-s3"
    else:
        access_key = secret_key = S3RVER_KEY
        command = ["node", "--openssl-legacy-provider",
                   os.path.join(arguments.node_tools, "s3rver_listen.js"),
                   "--directory", os.path.join(work, "s3rver-data")]
        os.makedirs(command[-1])
        server_name = "s3rver"
    home = os.path.join(work, "home")
    os.makedirs(home)
    env = isolated_environment(home, access_key, secret_key)

    status = 0
    try:
        with Server(command, os.environ.copy(), os.path.join(work, "server.log")) as server:
            print(f"server: {server_name} at {server.endpoint}")
            try:
                if arguments.client in ("aws", "aws-pyenv"):
                    check_aws_cli(client_program, server, env, work)
                elif arguments.client in ("boto3", "boto3-pyenv"):
                    run([client_program, os.path.join(HERE, "boto3_checks.py"), server.endpoint,
                         work], env, "boto3 checks", timeout=180)
                elif arguments.client == "s3cmd":
                    check_s3cmd(server, env, work, access_key, secret_key)
                elif arguments.client == "rclone":
                    check_rclone(server, env, work, access_key, secret_key)
                elif arguments.client == "sdk-js":
                    node_env = dict(env)
                    node_env["NODE_PATH"] = os.path.join(arguments.node_tools, "node_modules")
                    result = run([client_program, os.path.join(HERE, "sdk_js_checks.js"),
                                  server.endpoint], node_env, "@aws-sdk/client-s3 checks",
                                 timeout=180)
                    print(result.stdout, end="")
                if FAILURES:
                    raise CheckFailed(f"{len(FAILURES)} check(s) failed:\n- "
                                      + "\n- ".join(FAILURES))
            finally:
                alive = server.process.poll() is None
                exit_status = server.stop()
                if not alive:
                    raise CheckFailed(
                        f"{server_name} exited during the test (status {exit_status}); "
                        f"stderr: {server.stderr_tail()}")
    except CheckFailed as failure:
        print(f"FAILED ({arguments.client} against {server_name}): {failure}", file=sys.stderr)
        log = os.path.join(work, "server.log")
        if os.path.exists(log):
            with open(log, "rb") as file:
                tail = file.read()[-3000:].decode(errors="replace")
            if tail.strip():
                print(f"--- {server_name} stderr (tail) ---\n{tail}", file=sys.stderr)
        status = 1
    if status == 0:
        print(f"passed: {arguments.client} against {server_name}")
    if arguments.keep or status != 0:
        print(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
