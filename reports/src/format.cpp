#include "format.hpp"

#include <cstdlib>
#include <string>

namespace s3chaos::reports::detail {
namespace {

constexpr std::int64_t second_ms = 1000;
constexpr std::int64_t minute_ms = 60 * second_ms;
constexpr std::int64_t hour_ms = 60 * minute_ms;
constexpr std::int64_t day_ms = 24 * hour_ms;

std::string two_digits(std::int64_t value) {
  std::string out = std::to_string(value);
  return out.size() < 2 ? "0" + out : out;
}

std::optional<int> digits(std::string_view text, std::size_t at, std::size_t count) {
  if (at + count > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

}  // namespace

std::optional<ClockOrigin> parse_clock_origin(std::string_view text) {
  // 2008-07-20T08:00:00 then Z or +HH:MM / -HH:MM.
  const auto year = digits(text, 0, 4);
  const auto month = digits(text, 5, 2);
  const auto day = digits(text, 8, 2);
  const auto hour = digits(text, 11, 2);
  const auto minute = digits(text, 14, 2);
  const auto second = digits(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second) return std::nullopt;
  if (text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':') {
    return std::nullopt;
  }
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23 || *minute > 59 ||
      *second > 59) {
    return std::nullopt;
  }
  const std::string_view zone = text.substr(19);
  std::string offset_label;
  if (zone == "Z") {
    offset_label = "UTC";
  } else {
    const auto zone_hour = digits(zone, 1, 2);
    const auto zone_minute = digits(zone, 4, 2);
    if (zone.size() != 6 || (zone[0] != '+' && zone[0] != '-') || zone[3] != ':' || !zone_hour ||
        !zone_minute || *zone_hour > 23 || *zone_minute > 59) {
      return std::nullopt;
    }
    offset_label = "UTC" + std::string(zone);
  }
  return ClockOrigin{std::string(text.substr(0, 10)), *hour * 3600LL + *minute * 60LL + *second,
                     offset_label};
}

std::string ClockFormat::format(std::int64_t t_ms, bool with_millis) const {
  std::string out;
  std::int64_t total_ms = t_ms;
  std::int64_t day = 0;
  if (origin_) {
    total_ms = origin_->second_of_day * second_ms + t_ms;
    day = total_ms / day_ms;
    total_ms %= day_ms;
  } else {
    out = "+";
  }
  out += two_digits(total_ms / hour_ms) + ":" + two_digits(total_ms / minute_ms % 60) + ":" +
         two_digits(total_ms / second_ms % 60);
  if (with_millis) {
    std::string millis = std::to_string(total_ms % second_ms);
    out += "." + std::string(3 - millis.size(), '0') + millis;
  }
  if (day > 0) out += " +" + std::to_string(day) + "d";
  return out;
}

std::string ClockFormat::format_short(std::int64_t t_ms) const {
  std::string out;
  std::int64_t total_ms = t_ms;
  if (origin_) {
    total_ms = (origin_->second_of_day * second_ms + t_ms) % day_ms;
  } else {
    out = "+";
  }
  return out + two_digits(total_ms / hour_ms) + ":" + two_digits(total_ms / minute_ms % 60);
}

std::string format_count(std::uint64_t count) {
  std::string digits_text = std::to_string(count);
  std::string out;
  const std::size_t lead = digits_text.size() % 3;
  for (std::size_t i = 0; i < digits_text.size(); ++i) {
    if (i != 0 && (i + 3 - lead) % 3 == 0) out += ',';
    out += digits_text[i];
  }
  return out;
}

std::string format_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  std::size_t unit = 0;
  std::uint64_t scale = 1;
  while (unit + 1 < std::size(units) && bytes / scale >= 1024) {
    scale *= 1024;
    ++unit;
  }
  // Two decimals, rounded half up, in integers: bytes * 100 / scale would overflow for EiB.
  const std::uint64_t whole = bytes / scale;
  const std::uint64_t remainder = bytes % scale;
  std::uint64_t hundredths = (remainder / (scale / 1024) * 100 + 512) / 1024;
  std::uint64_t integer_part = whole;
  if (hundredths >= 100) {
    integer_part += 1;
    hundredths -= 100;
  }
  std::string fraction = std::to_string(hundredths);
  if (fraction.size() < 2) fraction = "0" + fraction;
  return std::to_string(integer_part) + "." + fraction + " " + units[unit];
}

std::string format_duration(std::int64_t duration_ms) {
  if (duration_ms < 0) return "-" + format_duration(-duration_ms);
  if (duration_ms < second_ms) return std::to_string(duration_ms) + " ms";
  if (duration_ms < minute_ms) {
    const std::int64_t tenths = duration_ms / 100;
    return format_tenths(tenths) + " s";
  }
  if (duration_ms < hour_ms) {
    const std::int64_t minutes = duration_ms / minute_ms;
    const std::int64_t seconds = duration_ms / second_ms % 60;
    return std::to_string(minutes) + " min" +
           (seconds != 0 ? " " + std::to_string(seconds) + " s" : "");
  }
  if (duration_ms < day_ms) {
    const std::int64_t hours = duration_ms / hour_ms;
    const std::int64_t minutes = duration_ms / minute_ms % 60;
    return std::to_string(hours) + " h" +
           (minutes != 0 ? " " + std::to_string(minutes) + " min" : "");
  }
  const std::int64_t days = duration_ms / day_ms;
  const std::int64_t hours = duration_ms / hour_ms % 24;
  return std::to_string(days) + " d" + (hours != 0 ? " " + std::to_string(hours) + " h" : "");
}

std::string format_tenths(std::int64_t tenths) {
  const bool negative = tenths < 0;
  const std::int64_t magnitude = std::llabs(tenths);
  std::string out = (negative ? "-" : "") + std::to_string(magnitude / 10);
  if (magnitude % 10 != 0) out += "." + std::to_string(magnitude % 10);
  return out;
}

}  // namespace s3chaos::reports::detail
