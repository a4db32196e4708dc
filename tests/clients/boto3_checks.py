"""boto3 against an S3 endpoint: put, get, head, delete, a paginated listing, a multipart upload,
and presigned URLs fetched with plain HTTP (urllib). Run by run.py with the interpreter under
test (Debian's python3 with python3-boto3, or another python3 with its own boto3); credentials
come from the environment, the endpoint from argv. Exits 0 when every check holds, 1 with a
message naming the request, what was expected and what came back.

usage: python3 boto3_checks.py ENDPOINT WORK_DIR
"""

import hashlib
import io
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

PART_BYTES = 5 * 1024 * 1024  # S3's smallest non-last part
HTTP_SECONDS_MAX = 30


# Failed value checks: each is recorded and the run goes on, so one run lists every
# disagreement; an SDK call that raises where it must succeed stops the run.
FAILURES = []


def fail(what, expected=None, got=None, fatal=False):
    message = what
    if expected is not None or got is not None:
        message += f"\n  expected: {expected!r}\n  got:      {got!r}"
    FAILURES.append(message)
    print(f"check failed: {message}", file=sys.stderr)
    if fatal:
        finish()


def finish():
    if FAILURES:
        print(f"FAILED (boto3 {boto3.__version__}, botocore {botocore.__version__}): "
              f"{len(FAILURES)} check(s) failed", file=sys.stderr)
        sys.exit(1)


def check_equal(got, expected, what):
    if got != expected:
        fail(what, expected, got)


def test_bytes(size_bytes, seed):
    out = bytearray()
    counter = 0
    while len(out) < size_bytes:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size_bytes])


def quoted_md5(data):
    return f'"{hashlib.md5(data).hexdigest()}"'


def error_code(call, *args, **kwargs):
    """Runs a call that must fail; returns (HTTP status, error code)."""
    try:
        call(*args, **kwargs)
    except ClientError as error:
        return (error.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                error.response.get("Error", {}).get("Code"))
    fail(f"{call.__name__} succeeded where it must fail", expected="an error")
    return (None, None)


def http_get(url):
    """Plain HTTP GET (no SDK): (status, body)."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_SECONDS_MAX) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def main():
    endpoint = sys.argv[1]
    print(f"client: boto3 {boto3.__version__} botocore {botocore.__version__} "
          f"python {sys.version.split()[0]}")
    # signature_version="s3v4": botocore presigns with the legacy SigV2 query form in
    # us-east-1 unless told otherwise; everything it signs in headers is SigV4 either way.
    config = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                    read_timeout=60, signature_version="s3v4")
    s3 = boto3.client("s3", endpoint_url=endpoint, config=config)
    bucket = "clients-boto3"
    s3.create_bucket(Bucket=bucket)

    # put, get, head: bytes and ETags.
    body = test_bytes(70_000, "boto3-put")
    put = s3.put_object(Bucket=bucket, Key="photos/one.jpg", Body=body,
                        ContentType="image/jpeg", Metadata={"origin": "phone-7"})
    check_equal(put["ETag"], quoted_md5(body), "put_object ETag")
    got = s3.get_object(Bucket=bucket, Key="photos/one.jpg")
    check_equal(got["Body"].read(), body, "get_object bytes")
    check_equal(got["ETag"], quoted_md5(body), "get_object ETag")
    check_equal(got["ContentLength"], len(body), "get_object ContentLength")
    head = s3.head_object(Bucket=bucket, Key="photos/one.jpg")
    check_equal(head["ContentLength"], len(body), "head_object ContentLength")
    check_equal(head["ETag"], quoted_md5(body), "head_object ETag")
    check_equal(head["ContentType"], "image/jpeg", "head_object ContentType")
    check_equal(head.get("Metadata"), {"origin": "phone-7"}, "head_object user metadata")
    ranged = s3.get_object(Bucket=bucket, Key="photos/one.jpg", Range="bytes=100-199")
    check_equal(ranged["Body"].read(), body[100:200], "get_object Range bytes=100-199")
    check_equal(error_code(s3.head_object, Bucket=bucket, Key="photos/none.jpg"), (404, "404"),
                "head_object of a missing key")
    check_equal(error_code(s3.get_object, Bucket=bucket, Key="photos/none.jpg"),
                (404, "NoSuchKey"), "get_object of a missing key")

    # A paginated listing: seven keys in pages of three, every key exactly once, in order.
    keys = [f"list/k{index:02d}" for index in range(7)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="list/", PaginationConfig={"PageSize": 3}))
    check_equal([len(page.get("Contents", [])) for page in pages], [3, 3, 1],
                "list_objects_v2 page sizes with MaxKeys=3")
    listed = [item["Key"] for page in pages for item in page.get("Contents", [])]
    check_equal(listed, keys, "list_objects_v2 keys over all pages")
    check_equal([item["ETag"] for page in pages for item in page.get("Contents", [])],
                [quoted_md5(key.encode()) for key in keys], "list_objects_v2 ETags")
    v1_pages = list(s3.get_paginator("list_objects").paginate(
        Bucket=bucket, Prefix="list/", PaginationConfig={"PageSize": 3}))
    check_equal([item["Key"] for page in v1_pages for item in page.get("Contents", [])], keys,
                "list_objects (v1, marker) keys over all pages")

    # delete: the object is gone, and deleting it again still succeeds (S3 answers 204).
    s3.delete_object(Bucket=bucket, Key="list/k03")
    check_equal(error_code(s3.head_object, Bucket=bucket, Key="list/k03"), (404, "404"),
                "head_object after delete_object")
    again = s3.delete_object(Bucket=bucket, Key="list/k03")
    check_equal(again["ResponseMetadata"]["HTTPStatusCode"], 204, "second delete_object status")
    deleted = s3.delete_objects(Bucket=bucket, Delete={
        "Objects": [{"Key": "list/k00"}, {"Key": "list/k01"}], "Quiet": False})
    check_equal(sorted(item["Key"] for item in deleted.get("Deleted", [])),
                ["list/k00", "list/k01"], "delete_objects Deleted keys")
    left = s3.list_objects_v2(Bucket=bucket, Prefix="list/")
    check_equal([item["Key"] for item in left.get("Contents", [])],
                ["list/k02", "list/k04", "list/k05", "list/k06"], "keys left after deletes")

    # An empty object sent as a file (botocore adds Expect: 100-continue), then another object
    # on the same pooled connection. botocore mis-reads the next answer on a connection whose
    # Expect request got a final status without a 100 Continue (boto/botocore#3755) and waits
    # for the server to close it; a server that always sends the 100 Continue avoids the stall.
    single = boto3.client("s3", endpoint_url=endpoint, config=Config(
        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=8,
        signature_version="s3v4", max_pool_connections=1))
    single.put_object(Bucket=bucket, Key="empty/zero", Body=io.BytesIO(b""))
    started = time.monotonic()
    single.put_object(Bucket=bucket, Key="empty/after", Body=io.BytesIO(b"after the empty one"))
    elapsed = time.monotonic() - started
    check_equal(elapsed < 5, True, f"put_object after an empty put_object on the same "
                f"connection answered in {elapsed:.1f} s (a stall means no 100 Continue was sent "
                f"for the empty body)")
    check_equal(s3.head_object(Bucket=bucket, Key="empty/zero")["ContentLength"], 0,
                "head_object ContentLength of the empty object")
    check_equal(s3.get_object(Bucket=bucket, Key="empty/after")["Body"].read(),
                b"after the empty one", "bytes of the object put after the empty one")

    # Multipart, by hand: parts of 5 MiB and 1 MiB, uploaded out of order.
    big = test_bytes(PART_BYTES + 1024 * 1024, "boto3-multipart")
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big/object.bin")
    upload_id = upload["UploadId"]
    check_equal((upload["Bucket"], upload["Key"]), (bucket, "big/object.bin"),
                "create_multipart_upload Bucket and Key")
    pieces = [big[:PART_BYTES], big[PART_BYTES:]]
    etags = {}
    for number in (2, 1):
        part = s3.upload_part(Bucket=bucket, Key="big/object.bin", UploadId=upload_id,
                              PartNumber=number, Body=pieces[number - 1])
        check_equal(part["ETag"], quoted_md5(pieces[number - 1]), f"upload_part {number} ETag")
        etags[number] = part["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=upload_id)
    check_equal([(item["PartNumber"], item["Size"]) for item in parts.get("Parts", [])],
                [(1, PART_BYTES), (2, len(big) - PART_BYTES)], "list_parts")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="big/object.bin", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2)]})
    expected_etag = '"' + hashlib.md5(
        b"".join(hashlib.md5(piece).digest() for piece in pieces)).hexdigest() + '-2"'
    check_equal(done["ETag"], expected_etag, "complete_multipart_upload ETag")
    got = s3.get_object(Bucket=bucket, Key="big/object.bin")
    check_equal(got["ETag"], expected_etag, "get_object ETag of the multipart object")
    data = got["Body"].read()
    check_equal((len(data), data == big), (len(big), True), "get_object of the multipart object")
    aborted = s3.create_multipart_upload(Bucket=bucket, Key="big/aborted.bin")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="big/aborted.bin", UploadId=aborted)
    check_equal(error_code(s3.head_object, Bucket=bucket, Key="big/aborted.bin"), (404, "404"),
                "head_object of an aborted multipart upload")

    # The managed transfer (upload_file / download_file) with its default 8 MiB threshold.
    work = sys.argv[2]
    managed = test_bytes(9 * 1024 * 1024, "boto3-managed")
    with open(f"{work}/managed.bin", "wb") as out:
        out.write(managed)
    s3.upload_file(f"{work}/managed.bin", bucket, "big/managed.bin")
    s3.download_file(bucket, "big/managed.bin", f"{work}/managed.back")
    with open(f"{work}/managed.back", "rb") as back:
        check_equal(back.read() == managed, True, "upload_file/download_file round trip")

    # Presigned URLs: a plain HTTP GET returns the bytes; a tampered signature is refused.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                          "Key": "photos/one.jpg"},
                                    ExpiresIn=300)
    status, fetched = http_get(url)
    check_equal((status, fetched == body), (200, True), f"presigned GET {url}")
    signature_at = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    flipped = "0" if url[signature_at] != "0" else "1"
    tampered = url[:signature_at] + flipped + url[signature_at + 1:]
    status, answer = http_get(tampered)
    check_equal(status, 403, f"presigned GET with a tampered signature (answer {answer[:120]!r})")
    check_equal(b"<Code>SignatureDoesNotMatch</Code>" in answer, True,
                "presigned GET with a tampered signature: error code")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket,
                                                              "Key": "photos/presigned.bin"},
                                        ExpiresIn=300)
    uploaded = test_bytes(5000, "boto3-presigned-put")
    request = urllib.request.Request(put_url, data=uploaded, method="PUT")
    with urllib.request.urlopen(request, timeout=HTTP_SECONDS_MAX) as response:
        check_equal(response.status, 200, "presigned PUT status")
    check_equal(s3.get_object(Bucket=bucket, Key="photos/presigned.bin")["Body"].read(),
                uploaded, "bytes stored by a presigned PUT")

    # A wrong secret is refused with SignatureDoesNotMatch, and nothing is stored.
    wrong = boto3.client("s3", endpoint_url=endpoint, config=config,
                         aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key="not-the-secret-key-at-all")
    check_equal(error_code(wrong.put_object, Bucket=bucket, Key="photos/forged", Body=b"x"),
                (403, "SignatureDoesNotMatch"), "put_object signed with a wrong secret")
    check_equal(error_code(s3.head_object, Bucket=bucket, Key="photos/forged"), (404, "404"),
                "head_object of the refused forged put")

    # Clean up: the bucket can be deleted once empty, and not before.
    check_equal(error_code(s3.delete_bucket, Bucket=bucket), (409, "BucketNotEmpty"),
                "delete_bucket of a non-empty bucket")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])
    s3.delete_bucket(Bucket=bucket)
    names = [item["Name"] for item in s3.list_buckets().get("Buckets", [])]
    check_equal(bucket in names, False, "list_buckets after delete_bucket")
    finish()
    print("boto3 checks passed")


if __name__ == "__main__":
    try:
        main()
    except (ClientError, botocore.exceptions.BotoCoreError, OSError) as error:
        # An SDK call failed where it must succeed: name the call's line in this script.
        import traceback

        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if frame.filename == __file__]
        where = f"line {frames[-1].lineno}: {frames[-1].line}" if frames else "?"
        fail(f"{where}\n  {type(error).__name__}: {error}", fatal=True)
