// In-process throughput of the fake S3 core: PUT + GET of 4 KiB objects, as operations per
// second on one core, next to the ceiling measured in the same run (one MD5 of 4 KiB per PUT,
// which S3 semantics require for the ETag).
//
//   ops_per_s          PUT and GET both count as one operation
//   md5_ceiling_ops_s  2 / (time of one MD5 of 4 KiB, OpenSSL's EVP with the digest fetched
//                      once): the best a PUT+GET pair can do
//   md5_of_4_kib_s3proto: the same through s3proto::md5 (EVP_md5(), fetched on every call)
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <string>
#include <vector>

#include "fake_s3/core.hpp"
#include "fake_s3/faults.hpp"
#include "fake_s3/http.hpp"

namespace {

using namespace s3chaos;
using namespace s3chaos::fake_s3;

constexpr std::size_t object_bytes = 4096;
constexpr std::size_t distinct_keys = 1024;

std::string payload() {
  std::string bytes(object_bytes, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  return bytes;
}

std::vector<std::string> keys() {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < distinct_keys; ++i) out.push_back("photo-" + std::to_string(i));
  return out;
}

// The ceiling: an S3 PUT must hash the body once (ETag), a GET hashes nothing. The fastest
// call OpenSSL offers for one buffer: EVP_Digest with a digest fetched once.
void md5_of_4_kib(benchmark::State& state) {
  const std::string bytes = payload();
  EVP_MD* md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
  unsigned char digest[16];
  unsigned int length = 0;
  for (auto _ : state) {
    EVP_Digest(bytes.data(), bytes.size(), digest, &length, md5, nullptr);
    benchmark::DoNotOptimize(digest);
  }
  EVP_MD_free(md5);
  state.counters["md5_ceiling_ops_s"] = benchmark::Counter(
      2.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(md5_of_4_kib);

// The same hash through s3proto::md5, for comparison (EVP_md5() is fetched on every call).
void md5_of_4_kib_s3proto(benchmark::State& state) {
  const std::string bytes = payload();
  for (auto _ : state) benchmark::DoNotOptimize(s3proto::md5(bytes));
  state.counters["md5_ceiling_ops_s"] = benchmark::Counter(
      2.0 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(md5_of_4_kib_s3proto);

// The typed API, as the simulation driver or a test would call it.
void typed_put_get_4_kib(benchmark::State& state) {
  S3Core core;
  RequestContext ctx;
  core.create_bucket(ctx, "photos");
  const std::string bytes = payload();
  const std::vector<std::string> names = keys();
  std::size_t next = 0;
  PutObjectInput put;
  put.bucket = "photos";
  GetObjectInput get;
  get.bucket = "photos";
  for (auto _ : state) {
    const std::string& key = names[next++ % distinct_keys];
    put.bucket = "photos";  // put_object consumed the last input
    put.key = key;
    put.body = bytes;  // the one copy a request body costs
    ctx.now += 1000;
    auto stored = core.put_object(ctx, std::move(put));
    get.key = key;
    auto read = core.get_object(ctx, get);
    if (!stored.ok() || !read.ok() || read.value().body.length != object_bytes) {
      state.SkipWithError("PUT or GET failed");
      break;
    }
  }
  state.counters["ops_per_s"] = benchmark::Counter(2.0 * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(typed_put_get_4_kib);

// GET alone, the part that costs no hashing.
void typed_get_4_kib(benchmark::State& state) {
  S3Core core;
  RequestContext ctx;
  core.create_bucket(ctx, "photos");
  const std::vector<std::string> names = keys();
  for (const auto& key : names) {
    core.put_object(ctx, PutObjectInput{"photos", key, payload(), {}, {}, "", {}, false, {}});
  }
  std::size_t next = 0;
  GetObjectInput get;
  get.bucket = "photos";
  for (auto _ : state) {
    get.key = names[next++ % distinct_keys];
    auto read = core.get_object(ctx, get);
    if (!read.ok()) {
      state.SkipWithError("GET failed");
      break;
    }
  }
  state.counters["ops_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(typed_get_4_kib);

// The HTTP shape (routing, header parsing, response headers, body copy).
void http_put_get_4_kib(benchmark::State& state) {
  S3Core core;
  RequestContext ctx;
  core.create_bucket(ctx, "photos");
  const std::vector<std::string> names = keys();
  HttpRequest put{"PUT", "", {{"Content-Type", "image/jpeg"}}, payload()};
  HttpRequest get{"GET", "", {}, ""};
  std::size_t next = 0;
  for (auto _ : state) {
    const std::string target = "/photos/" + names[next++ % distinct_keys];
    put.target = target;
    get.target = target;
    ctx.now += 1000;
    auto stored = handle_http(core, ctx, put, "R");
    auto read = handle_http(core, ctx, get, "R");
    if (stored.status != 200 || read.status != 200) {
      state.SkipWithError("PUT or GET failed");
      break;
    }
  }
  state.counters["ops_per_s"] = benchmark::Counter(2.0 * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(http_put_get_4_kib);

// The faulty service with a plan that matches every request (a latency rule), as the
// simulator drives it: fate decision, HTTP shape, core.
void faulty_put_get_4_kib(benchmark::State& state) {
  FaultyS3 service(CoreSettings{}, parse_fault_plan(R"({"rules": [{"match": {"probability": 0.5},
                       "effect": {"type": "latency", "distribution": "fixed", "ms": 1}}]})"),
                   1);
  service.core().create_bucket(RequestContext{}, "photos");
  const std::vector<std::string> names = keys();
  HttpRequest put{"PUT", "", {}, payload()};
  HttpRequest get{"GET", "", {}, ""};
  std::size_t next = 0;
  TimeNs now = 0;
  for (auto _ : state) {
    const std::string target = "/photos/" + names[next++ % distinct_keys];
    put.target = target;
    get.target = target;
    now += 1000;
    auto stored = service.handle(now, put);
    auto read = service.handle(now, get);
    if (stored.response.status != 200 || read.response.status != 200) {
      state.SkipWithError("PUT or GET failed");
      break;
    }
  }
  state.counters["ops_per_s"] = benchmark::Counter(2.0 * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}
BENCHMARK(faulty_put_get_4_kib);

}  // namespace

BENCHMARK_MAIN();
