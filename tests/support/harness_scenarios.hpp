// Small scenarios for harness tests, built in code so each test states its world in a few lines.
#pragma once

#include "harness/scenario.hpp"

namespace s3chaos::test {

// 30 simulated minutes of photos at 0.5/s; S3 acknowledges PUTs with a 60 s durability lag
// between minute 10 and minute 12, then dies at minute 12 for 5 minutes. protected (settle
// 120 s) must hold; naive-2008 must lose the photos acknowledged in the last 60 s of the window.
inline constexpr const char* window_scenario_json = R"({
  "name": "mini-window",
  "seed": 7,
  "duration_s": 1800,
  "drain_s": 1800,
  "workload": { "arrivals": [ { "from_s": 0, "rate_per_s": 0.5 } ],
                "photo_bytes": { "min": 20000, "max": 400000 }, "byte_scale": 256 },
  "s3_faults": {
    "rules": [ { "name": "window", "window": { "start_ms": 600000, "end_ms": 720000 },
                 "match": { "operations": ["PutObject"] },
                 "effect": { "type": "durability_lag", "lag_ms": 60000 } },
               { "name": "noise", "window": { "start_ms": 100000, "end_ms": 200000 },
                 "match": { "probability": 0.2 },
                 "effect": { "type": "error", "code": "InternalError" } } ],
    "events": [ { "name": "death", "type": "death", "at_ms": 720000, "down_ms": 300000 } ]
  },
  "uploader": { "settle_time_s": 120, "backoff_max_s": 20 }
})";

inline harness::Scenario window_scenario() {
  return harness::scenario_from_source(
      harness::JsonSource::parse("mini.json", window_scenario_json));
}

}  // namespace s3chaos::test
