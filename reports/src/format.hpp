// Number, time and coordinate formatting for the reports. Integer arithmetic only, so the
// output does not depend on the locale, the floating-point unit or the library's rounding.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace s3chaos::reports::detail {

// Clock time of simulated time 0, parsed from "YYYY-MM-DDTHH:MM:SS(Z|+HH:MM|-HH:MM)".
struct ClockOrigin {
  std::string date;              // "2008-07-20"
  std::int64_t second_of_day;    // 08:00:00 -> 28800
  std::string utc_offset_label;  // "UTC" or "UTC-07:00"
};

// Returns the parsed origin, or nothing when text does not have the format above.
std::optional<ClockOrigin> parse_clock_origin(std::string_view text);

// Formats simulated times: "08:47:12" with an origin ("08:47:12 +1d" past midnight), or
// "+00:47:12" elapsed without one. With_millis adds ".123".
class ClockFormat {
 public:
  explicit ClockFormat(std::optional<ClockOrigin> origin) : origin_(std::move(origin)) {}
  std::string format(std::int64_t t_ms, bool with_millis = false) const;
  // "08:47" for axis ticks (or "+00:47" elapsed).
  std::string format_short(std::int64_t t_ms) const;
  const std::optional<ClockOrigin>& origin() const { return origin_; }

 private:
  std::optional<ClockOrigin> origin_;
};

// "5,049".
std::string format_count(std::uint64_t count);
// "6.48 GiB", "512 B".
std::string format_bytes(std::uint64_t bytes);
// "450 ms", "37 s", "5 min", "1 h 12 min", "2 d 3 h".
std::string format_duration(std::int64_t duration_ms);
// Tenths as a decimal with at most one digit after the point: 1234 -> "123.4", 1230 -> "123".
std::string format_tenths(std::int64_t tenths);

}  // namespace s3chaos::reports::detail
