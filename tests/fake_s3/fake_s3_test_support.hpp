// Small builders shared by the fake_s3 tests.
#pragma once

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <sstream>
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

// Runs a RapidCheck property with a fixed seed and property_cases(default_cases) cases, and
// reports a failure (with RapidCheck's counterexample) to GoogleTest.
template <class Testable>
void check_property(int default_cases, int max_size, Testable&& testable) {
  rc::detail::TestParams params;
  params.seed = 20080720;
  params.maxSuccess = property_cases(default_cases);
  params.maxSize = max_size;
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable),
                                                rc::detail::TestMetadata{}, params);
  std::ostringstream report;
  rc::detail::printResultMessage(result, report);
  EXPECT_TRUE(result.template is<rc::detail::SuccessResult>()) << report.str();
}

}  // namespace s3chaos::fake_s3::testing
