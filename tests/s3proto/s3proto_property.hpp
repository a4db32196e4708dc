// Runs a RapidCheck property inside a GoogleTest test with a fixed seed and a case count read
// from S3CHAOS_PROPERTY_CASES, so CI can scale the search and a failure replays the same way.
// RC_PARAMS still overrides the seed (the failure message prints the one to use).
#pragma once

#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <cstdlib>
#include <sstream>
#include <string>

namespace s3chaos::s3proto::testing {

inline int property_cases(int default_cases) {
  const char* text = std::getenv("S3CHAOS_PROPERTY_CASES");
  if (text == nullptr) return default_cases;
  const int cases = std::atoi(text);
  return cases > 0 ? cases : default_cases;
}

// `default_cases` is the count for a plain run; S3CHAOS_PROPERTY_CASES replaces it.
template <typename Testable>
void check_property(Testable&& testable, int default_cases = 100) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  rc::detail::TestMetadata metadata;
  metadata.id = std::string(info->test_suite_name()) + "/" + info->name();
  metadata.description = info->name();
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (std::getenv("RC_PARAMS") == nullptr) params.seed = 0x53334348414f53ull;  // "S3CHAOS"
  params.maxSuccess = property_cases(default_cases);
  const auto result = rc::detail::checkTestable(std::forward<Testable>(testable), metadata, params);
  if (!result.template is<rc::detail::SuccessResult>()) {
    std::ostringstream message;
    rc::detail::printResultMessage(result, message);
    FAIL() << message.str() << "\n(seed " << params.seed << ")";
  }
}

}  // namespace s3chaos::s3proto::testing
