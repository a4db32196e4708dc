// Runs a RapidCheck property inside a GoogleTest test with a case count that
// S3CHAOS_PROPERTY_CASES can raise for long runs (the default stays small so the test command
// stays fast). Everything else (seed, size, RC_PARAMS) comes from RapidCheck's configuration,
// so a failure prints a seed that RC_PARAMS="seed=..." replays.
#pragma once

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace s3chaos::test {

inline int property_cases(int default_cases) {
  const char* text = std::getenv("S3CHAOS_PROPERTY_CASES");
  if (text == nullptr) return default_cases;
  const int cases = std::atoi(text);
  return cases > 0 ? cases : default_cases;
}

// `max_size` > 0 caps RapidCheck's size parameter (generators whose cases grow costly with it).
template <typename Testable>
void check_property(Testable&& testable, int default_cases, int max_size = 0) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  params.maxSuccess = property_cases(default_cases);
  if (max_size > 0) params.maxSize = max_size;
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str();
  }
}

}  // namespace s3chaos::test
