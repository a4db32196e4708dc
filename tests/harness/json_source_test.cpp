// Proves that load errors point at the right place: syntax errors and semantic errors (reported
// through error_at on a JSON pointer) both name the file, line and column of the offending value.
#include "harness/json_source.hpp"

#include <gtest/gtest.h>

namespace s3chaos::harness {
namespace {

TEST(JsonSource, SyntaxErrorNamesLineAndColumn) {
  try {
    JsonSource::parse("bad.json", "{\n  \"a\": 1,\n  \"b\": ]\n}");
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    EXPECT_EQ(error.file(), "bad.json");
    EXPECT_EQ(error.position().line, 3u);
    EXPECT_EQ(error.position().column, 8u);
    EXPECT_NE(std::string(error.what()).find("bad.json:3:8: invalid JSON"), std::string::npos)
        << error.what();
  }
}

TEST(JsonSource, ValuesKnowTheirPositions) {
  const JsonSource source = JsonSource::parse(
      "s.json",
      "{\n  \"workload\": {\"photo_bytes\": {\"min\": 5}},\n  \"rules\": [1, {\"x/y\": true}]\n}");
  EXPECT_EQ(source.position("/workload/photo_bytes/min").line, 2u);
  EXPECT_EQ(source.position("/workload/photo_bytes/min").column, 39u);
  EXPECT_EQ(source.position("/rules/1").line, 3u);
  EXPECT_EQ(source.position("/rules/1").column, 16u);
  EXPECT_EQ(source.position("/rules/1/x~1y").column, 24u);
  // An unknown pointer falls back to its nearest known parent.
  EXPECT_EQ(source.position("/rules/1/missing").column, 16u);
  const InputError error = source.error_at("/rules/0", "expected an object");
  EXPECT_STREQ(error.what(), "s.json:3:13: expected an object");
}

TEST(JsonSource, MissingFileIsAClearError) {
  EXPECT_THROW(JsonSource::load("/nonexistent/dir/scenario.json"), InputError);
}

TEST(JsonSource, EmptyAndTruncatedDocumentsAreErrorsNotCrashes) {
  EXPECT_THROW(JsonSource::parse("e.json", ""), InputError);
  EXPECT_THROW(JsonSource::parse("t.json", "{\"a\": [1, 2"), InputError);
  EXPECT_THROW(JsonSource::parse("n.json", std::string_view("{\"a\"\0:1}", 8)), InputError);
}

}  // namespace
}  // namespace s3chaos::harness
