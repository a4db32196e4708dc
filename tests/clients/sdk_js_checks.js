// @aws-sdk/client-s3 (v3) against an S3 endpoint, with the SDK's default checksum behaviour
// (it computes a CRC32 of every body it sends and, for a stream of unknown length, sends an
// aws-chunked body with the checksum in a trailer; it validates response checksums when the
// server returns one). Run by run.py with NODE_PATH pointing at tools/node/node_modules;
// credentials come from the environment, the endpoint from argv. Exits 0 when every check
// holds, 1 with a message naming the request, what was expected and what came back.
//
// usage: node sdk_js_checks.js ENDPOINT
'use strict';
const crypto = require('crypto');
const { Readable } = require('stream');
const {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  DeleteObjectCommand, DeleteBucketCommand, ListObjectsV2Command, CreateMultipartUploadCommand,
  UploadPartCommand, CompleteMultipartUploadCommand, paginateListObjectsV2,
} = require('@aws-sdk/client-s3');
const sdk_version = require('@aws-sdk/client-s3/package.json').version;

const part_bytes = 5 * 1024 * 1024;

class CheckFailed extends Error {}

// Failed value checks: each is recorded and the run goes on, so one run lists every
// disagreement; a request that throws where it must succeed stops the run.
const failures = [];

function check_equal(got, expected, what) {
  const got_text = JSON.stringify(got);
  const expected_text = JSON.stringify(expected);
  if (got_text !== expected_text) {
    const message = `${what}\n  expected: ${expected_text}\n  got:      ${got_text}`;
    failures.push(message);
    process.stderr.write(`check failed: ${message}\n`);
  }
}

function test_bytes(size_bytes, seed) {
  const out = Buffer.alloc(size_bytes);
  let offset = 0;
  for (let counter = 0; offset < size_bytes; counter += 1) {
    const digest = crypto.createHash('sha256').update(`${seed}:${counter}`).digest();
    offset += digest.copy(out, offset);
  }
  return out;
}

const md5 = (data) => crypto.createHash('md5').update(data).digest();
const quoted_md5 = (data) => `"${md5(data).toString('hex')}"`;

async function body_bytes(response) {
  return Buffer.from(await response.Body.transformToByteArray());
}

async function error_of(promise) {
  try {
    await promise;
  } catch (error) {
    return [error.$metadata ? error.$metadata.httpStatusCode : undefined, error.name];
  }
  check_equal('succeeded', 'an error', 'a request that must fail');
  return [undefined, undefined];
}

async function main() {
  const endpoint = process.argv[2];
  console.log(`client: @aws-sdk/client-s3 ${sdk_version} node ${process.version}`);
  const s3 = new S3Client({ endpoint, region: 'us-east-1', maxAttempts: 1 });
  const bucket = 'clients-sdk-js';
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  // A Buffer body: the SDK adds x-amz-checksum-crc32 by default.
  const body = test_bytes(40000, 'sdk-js-put');
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/buffer.bin',
                                                   Body: body }));
  check_equal(put.ETag, quoted_md5(body), 'PutObject (Buffer) ETag');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/buffer.bin' }));
  check_equal(got.ETag, quoted_md5(body), 'GetObject ETag');
  check_equal((await body_bytes(got)).equals(body), true, 'GetObject bytes (Buffer upload)');

  // A stream body (its length given, as the SDK requires for PutObject): the SDK cannot hash
  // it ahead, so it sends aws-chunked with the CRC32 in a trailer.
  const streamed = test_bytes(200000, 'sdk-js-stream');
  const chunks = [];
  for (let offset = 0; offset < streamed.length; offset += 65536) {
    chunks.push(streamed.subarray(offset, offset + 65536));
  }
  const put_stream = await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: 'a/stream.bin', Body: Readable.from(chunks),
    ContentLength: streamed.length,
  }));
  check_equal(put_stream.ETag, quoted_md5(streamed), 'PutObject (stream, aws-chunked) ETag');
  const got_stream = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/stream.bin',
                                                          ChecksumMode: 'ENABLED' }));
  check_equal((await body_bytes(got_stream)).equals(streamed), true,
              'GetObject bytes (stream upload)');

  // An explicit SHA-256 checksum is stored and echoed back on a HeadObject that asks for it.
  const sha_body = Buffer.from('checksummed with sha256\n');
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/sha.txt', Body: sha_body,
                                       ChecksumAlgorithm: 'SHA256' }));
  const head_sha = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a/sha.txt',
                                                         ChecksumMode: 'ENABLED' }));
  check_equal(head_sha.ChecksumSHA256,
              crypto.createHash('sha256').update(sha_body).digest('base64'),
              'HeadObject ChecksumSHA256 of a PutObject with ChecksumAlgorithm SHA256');

  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a/buffer.bin' }));
  check_equal([head.ContentLength, head.ETag], [body.length, quoted_md5(body)],
              'HeadObject ContentLength and ETag');
  check_equal(await error_of(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'a/none' }))),
              [404, 'NotFound'], 'HeadObject of a missing key');
  check_equal(await error_of(s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/none' }))),
              [404, 'NoSuchKey'], 'GetObject of a missing key');

  // Multipart: two parts, each with the SDK's default checksum.
  const big = test_bytes(part_bytes + 300000, 'sdk-js-multipart');
  const pieces = [big.subarray(0, part_bytes), big.subarray(part_bytes)];
  const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket,
                                                                   Key: 'b/big.bin' }));
  const parts = [];
  for (let index = 0; index < pieces.length; index += 1) {
    const part = await s3.send(new UploadPartCommand({
      Bucket: bucket, Key: 'b/big.bin', UploadId: created.UploadId, PartNumber: index + 1,
      Body: pieces[index],
    }));
    check_equal(part.ETag, quoted_md5(pieces[index]), `UploadPart ${index + 1} ETag`);
    const entry = { PartNumber: index + 1, ETag: part.ETag };
    for (const name of ['ChecksumCRC32', 'ChecksumCRC32C', 'ChecksumCRC64NVME', 'ChecksumSHA1',
                        'ChecksumSHA256']) {
      if (part[name]) entry[name] = part[name];
    }
    parts.push(entry);
  }
  const completed = await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: 'b/big.bin', UploadId: created.UploadId,
    MultipartUpload: { Parts: parts },
  }));
  const multipart_etag =
      `"${md5(Buffer.concat(pieces.map((piece) => md5(piece)))).toString('hex')}-2"`;
  check_equal(completed.ETag, multipart_etag, 'CompleteMultipartUpload ETag');
  const got_big = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'b/big.bin' }));
  check_equal((await body_bytes(got_big)).equals(big), true, 'GetObject of the multipart object');

  // A paginated listing.
  const keys = [];
  for (let index = 0; index < 5; index += 1) {
    keys.push(`c/key-${index}`);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: keys[index],
                                         Body: `value ${index}` }));
  }
  const page_sizes = [];
  const listed = [];
  for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 },
                                                 { Bucket: bucket, Prefix: 'c/' })) {
    page_sizes.push((page.Contents || []).length);
    for (const item of page.Contents || []) listed.push(item.Key);
  }
  check_equal(page_sizes, [2, 2, 1], 'ListObjectsV2 page sizes with MaxKeys=2');
  check_equal(listed, keys, 'ListObjectsV2 keys over all pages');

  // Delete everything, then the bucket.
  const all = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  for (const item of all.Contents || []) {
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: item.Key }));
  }
  const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  check_equal(after.KeyCount, 0, 'ListObjectsV2 KeyCount after deleting every object');
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
  if (failures.length > 0) throw new CheckFailed(`${failures.length} check(s) failed`);
  console.log('@aws-sdk/client-s3 checks passed');
}

main().then(() => process.exit(0), (error) => {
  const detail = error instanceof CheckFailed ? error.message
      : `${error.name}: ${error.message} (HTTP ${error.$metadata && error.$metadata.httpStatusCode})` +
        `\n${error.stack}`;
  process.stderr.write(`FAILED (@aws-sdk/client-s3 ${sdk_version}): ${detail}\n`);
  process.exit(1);
});
