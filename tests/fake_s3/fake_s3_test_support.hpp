// Small builders shared by the fake_s3 tests.
#pragma once

#include <cstdlib>
#include <string>

#include "fake_s3/http.hpp"

namespace s3chaos::fake_s3::testing {

inline HttpRequest request(std::string method, std::string target, std::string body = "",
                           HeaderList headers = {}) {
  return HttpRequest{std::move(method), std::move(target), std::move(headers), std::move(body)};
}

// Number of random cases for property tests: small by default, scaled by
// S3CHAOS_PROPERTY_CASES.
inline int property_cases(int default_cases) {
  if (const char* text = std::getenv("S3CHAOS_PROPERTY_CASES")) {
    const int cases = std::atoi(text);
    if (cases > 0) return cases;
  }
  return default_cases;
}

}  // namespace s3chaos::fake_s3::testing
