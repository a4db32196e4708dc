#!/usr/bin/env python3
"""Makes the example run results in this folder: made up, but shaped like the runner's output.

The photoshare-2008-07-20 story (AWS status page, times PDT): 08:40 error rates climb, a
life/death window where PUTs are answered 200 and then lost, 08:49 S3 loses its volatile
writes, 10:32 internal communication stopped, 14:20 hosts rejoin, 16:58 back to normal.
Deterministic: the same script gives the same bytes. Run from this folder:
    python3 make_examples.py
"""
import hashlib
import json
import random

MIN = 60_000
HOUR = 60 * MIN


def at(hh, mm, ss=0):
    """Simulated ms since 08:00:00 PDT, the scenario's clock origin."""
    return ((hh - 8) * 60 + mm) * MIN + ss * 1000


DURATION_MS = at(18, 0)
SEED = 20080720
W_MS = 5 * MIN  # durability lag of the life/death window
SETTLE_MS = 10 * MIN  # protected policy waits this long, then verifies by GET

HEALTH = [
    (0, at(8, 40), "up", "normal service"),
    (at(8, 40), at(8, 44), "brownout", "error rates begin to climb"),
    (at(8, 44), at(8, 49), "life_death_window", "PUTs answered 200, then lost"),
    (at(8, 49), at(10, 32), "outage", "very few requests complete"),
    (at(10, 32), at(14, 20), "dead", "internal server-to-server communication stopped"),
    (at(14, 20), at(16, 58), "brownout", "hosts rejoin gradually"),
    (at(16, 58), DURATION_MS, "up", "US requests back to normal"),
]
CRASH_MS = at(12, 15)
RESTART_MS = at(12, 15, 40)

FAULT_PLAN = [
    {"kind": "error_rate", "start_ms": at(8, 40), "end_ms": at(8, 44), "status": 500,
     "rate_from": 0.05, "rate_to": 0.6},
    {"kind": "ack_then_lose", "start_ms": at(8, 44), "end_ms": at(8, 49),
     "durability_lag_ms": W_MS, "error_rate": 0.985},
    {"kind": "s3_crash", "at_ms": at(8, 49), "discard_volatile": True},
    {"kind": "outage", "start_ms": at(8, 49), "end_ms": at(10, 32), "status": 503,
     "success_rate": 0.01},
    {"kind": "refuse", "start_ms": at(10, 32), "end_ms": at(14, 20)},
    {"kind": "error_rate", "start_ms": at(14, 20), "end_ms": at(16, 58), "status": 503,
     "rate_from": 0.9, "rate_to": 0.1},
    {"kind": "uploader_crash", "at_ms": CRASH_MS, "restart_after_ms": RESTART_MS - CRASH_MS},
]

SCENARIO = {
    "name": "photoshare-2008-07-20",
    "source": "PhotoShare blog post and AWS status page, 20 July 2008 (times PDT)",
    "clock_origin": "2008-07-20T08:00:00-07:00",
    "duration_ms": DURATION_MS,
    "seed": SEED,
    "workload": {"arrival": "poisson", "photos_per_minute": 8.8,
                 "size_bytes_min": 100 * 1024, "size_bytes_max": 3 * 1024 * 1024,
                 "clients": 2000},
    "uploader": {"cache_bytes_max": 40 * 1024**3, "settle_ms": SETTLE_MS,
                 "upload_concurrency": 8},
    "faults": FAULT_PLAN,
    "expect": {"naive-2008": "loses_photos", "protected": "holds"},
}


def state_at(t):
    for start, end, state, _ in HEALTH:
        if start <= t < end:
            return state
    return "up"


def success_probability(t):
    state = state_at(t)
    if state == "up":
        return 0.995
    if state == "brownout":
        if t < at(9, 0):  # climbing: 5% -> 60% errors
            frac = (t - at(8, 40)) / (at(8, 44) - at(8, 40))
            return 1.0 - (0.05 + 0.55 * frac)
        frac = (t - at(14, 20)) / (at(16, 58) - at(14, 20))  # tapering: 90% -> 10% errors
        return 1.0 - (0.9 - 0.8 * frac)
    if state == "life_death_window":
        return 0.015
    if state == "outage":
        return 0.01
    return 0.0


def lost_volatile(put_ms):
    """A 200 inside the window is volatile until put + W; S3 dies at 08:49 first."""
    return state_at(put_ms) == "life_death_window" and put_ms + W_MS > at(8, 49)


def down_for_crash(t):
    return CRASH_MS <= t < RESTART_MS


def next_success(rng, t, backoff_max_ms):
    """Time of the first attempt at or after t that S3 answers 200 (retries with backoff)."""
    backoff_ms = 1000
    while t < DURATION_MS:
        if down_for_crash(t):
            t = RESTART_MS + rng.randint(0, 2000)
            continue
        if rng.random() < success_probability(t):
            return t + rng.randint(300, 2500)  # transfer time
        t += backoff_ms + rng.randint(0, backoff_ms // 2)
        backoff_ms = min(backoff_ms * 2, backoff_max_ms)
    return None


def throttle(times_ms, spacing_ms):
    """Upload concurrency bounds the drain rate: successes at least spacing_ms apart."""
    order = sorted(range(len(times_ms)), key=lambda i: (times_ms[i] is None, times_ms[i] or 0, i))
    last = -spacing_ms
    out = list(times_ms)
    for i in order:
        if times_ms[i] is None:
            continue
        out[i] = max(times_ms[i], last + spacing_ms)
        last = out[i]
    return out


def workload(rng):
    photos = []
    t = 0.0
    n = 0
    while True:
        t += rng.expovariate(8.8 / MIN)
        if t >= at(17, 30):  # phones stop posting half an hour before the end
            break
        n += 1
        user = rng.randint(1, 2000)
        size = int(min(3 * 1024 * 1024, max(100 * 1024, rng.lognormvariate(13.9, 0.5))))
        received = int(t)
        if down_for_crash(received):
            continue  # the phone could not connect; it retries later as a new post
        photos.append({"id": f"p-{n:06d}", "key": f"photos/u{user:04d}/p-{n:06d}.jpg",
                       "size_bytes": size, "received_ms": received,
                       "acked_ms": received + rng.randint(40, 250)})
    return photos


def run(policy):
    rng = random.Random(f"{SEED}/{policy}")
    photos = workload(random.Random(SEED))
    first_put = [next_success(rng, p["acked_ms"] + rng.randint(5, 80), 5 * MIN) for p in photos]
    first_put = throttle(first_put, 450)
    for p, put in zip(photos, first_put):
        p["put_ok_ms"] = put
    if policy == "naive-2008":
        for p in photos:
            put = p["put_ok_ms"]
            if put is None:
                p["outcome"] = "cached"
                continue
            p["evicted_ms"] = put + rng.randint(2, 20)
            if lost_volatile(put):
                p["lost_ms"] = at(8, 49)
                p["outcome"] = "lost"
                p["loss_side"] = "uploader"
                p["loss_reason"] = ("evicted on the PUT's 200 OK, before the store's durability "
                                    "lag (5 min) had passed; S3 discarded the volatile write at "
                                    "08:49:00")
            else:
                p["outcome"] = "stored"
    else:
        verify_at = []
        for p in photos:
            put = p["put_ok_ms"]
            if put is None:
                verify_at.append(None)
                continue
            t = put + SETTLE_MS
            while True:
                done = next_success(rng, t, 5 * MIN)
                if done is None:
                    break
                if not lost_volatile(put):
                    break
                # The GET found nothing: the 200 was a lie. Upload again, then settle again.
                put = next_success(rng, done, 5 * MIN)
                if put is None:
                    done = None
                    break
                t = put + SETTLE_MS
            verify_at.append(done)
        verify_at = throttle(verify_at, 450)
        for p, v in zip(photos, verify_at):
            if v is None:
                p["outcome"] = "cached"
                continue
            p["verified_ms"] = v
            p["evicted_ms"] = v + rng.randint(2, 20)
            p["outcome"] = "stored"
    for p in photos:
        for k in [k for k, v in p.items() if v is None]:
            del p[k]
    return photos


def drained_at(photos):
    return max(p.get("evicted_ms", 0) for p in photos)


def cache_peak(photos):
    events = []
    for p in photos:
        events.append((p["received_ms"], p["size_bytes"]))
        if "evicted_ms" in p:
            events.append((p["evicted_ms"], -p["size_bytes"]))
    level = peak = 0
    for _, d in sorted(events):
        level += d
        peak = max(peak, level)
    return peak


def result(policy):
    photos = run(policy)
    lost = [p for p in photos if p["outcome"] == "lost"]
    acked = sum(1 for p in photos if "acked_ms" in p)
    hash_hex = hashlib.sha256(f"{SEED}/{policy}/trace".encode()).hexdigest()
    drain = drained_at(photos)
    fmt = lambda ms: f"{8 + ms // HOUR:02d}:{ms // MIN % 60:02d}:{ms // 1000 % 60:02d}"
    checks = [
        {"name": "safety", "holds": not lost,
         "detail": (f"{len(lost)} acknowledged photos are recoverable neither from the "
                    "uploader's durable state nor from S3's durable truth" if lost else
                    f"all {acked:,} acknowledged photos recoverable at every crash point and at the end"),
         "contract_side": "uploader" if lost else None},
        {"name": "integrity", "holds": True,
         "detail": "every stored object matches the client's checksum, under its own key"},
        {"name": "liveness", "holds": True,
         "detail": f"faults ended 16:58:00; the local cache drained at {fmt(drain)}, within the "
                   "bound of 60 min"},
        {"name": "availability", "holds": True,
         "detail": "the uploader acknowledged every photo during the outage; the cache never "
                   "reached its limit (40 GiB)"},
    ]
    out = {
        "format": "s3chaos.run_result",
        "format_version": 1,
        "scenario": {"name": SCENARIO["name"], "path": "scenarios/photoshare-2008-07-20.json",
                     "document": SCENARIO},
        "seed": SEED,
        "policy": policy,
        "trace_hash": hash_hex,
        "replay_command": (f"s3chaos run scenarios/photoshare-2008-07-20.json --seed {SEED} "
                           f"--policy {policy} --report photoshare-{policy}.html"),
        "duration_ms": DURATION_MS,
        "clock_origin": SCENARIO["clock_origin"],
        "verdict": "violated" if lost else "holds",
        "checks": checks,
        "s3_health": [{"start_ms": s, "end_ms": e, "state": st, "note": n}
                      for s, e, st, n in HEALTH],
        "faults": [
            {"start_ms": at(8, 40), "end_ms": at(8, 44), "kind": "error_rate",
             "description": "500 InternalError on 5% of requests, climbing to 60%"},
            {"start_ms": at(8, 44), "end_ms": at(8, 49), "kind": "ack_then_lose",
             "description": "98.5% of PUTs fail; the rest get 200 OK but stay volatile for 5 min"},
            {"start_ms": at(8, 49), "kind": "s3_crash",
             "description": "S3 dies: volatile writes since 08:44:00 are discarded"},
            {"start_ms": at(8, 49), "end_ms": at(10, 32), "kind": "outage",
             "description": "503 ServiceUnavailable on 99% of requests"},
            {"start_ms": at(10, 32), "end_ms": at(14, 20), "kind": "refuse",
             "description": "connections refused"},
            {"start_ms": at(14, 20), "end_ms": at(16, 58), "kind": "error_rate",
             "description": "503 SlowDown on 90% of requests, tapering to 10%"},
        ],
        "uploader_crashes": [{"at_ms": CRASH_MS, "restart_ms": RESTART_MS,
                              "cause": "scenario fault: uploader process killed (SIGKILL)"}],
    }
    if lost:
        first = lost[0]
        out["counterexample"] = {
            "shrunk_from_rule_count": len(FAULT_PLAN),
            "fault_plan": [FAULT_PLAN[1], FAULT_PLAN[2]],
            "steps": [
                {"at_ms": first["received_ms"], "photo_id": first["id"],
                 "text": f"a phone posts photo {first['id']} "
                         f"({first['size_bytes'] // 1024} KiB) to the uploader"},
                {"at_ms": first["acked_ms"], "photo_id": first["id"],
                 "text": f"the uploader stores it in its local cache and acknowledges {first['id']}"},
                {"at_ms": first["put_ok_ms"], "photo_id": first["id"],
                 "text": f"S3 answers 200 OK to PUT {first['key']}; the object is volatile "
                         f"for 5 min (until {fmt(first['put_ok_ms'] + W_MS)})"},
                {"at_ms": first["evicted_ms"], "photo_id": first["id"],
                 "text": "naive-2008 trusts the 200 and deletes its local copy"},
                {"at_ms": at(8, 49), "text": "S3 dies and discards every volatile write"},
                {"at_ms": DURATION_MS, "photo_id": first["id"],
                 "text": f"{first['id']} was acknowledged, but neither the uploader nor S3 has it"},
            ],
            "replay_command": (f"s3chaos replay scenarios/photoshare-2008-07-20.json --seed {SEED} "
                               "--policy naive-2008 --fault-plan shrunk-2-rules.json"),
        }
    out["photos"] = photos  # last, so the big array does not hide the rest of the file
    return out, photos


def write(name, doc):
    """One photo per line keeps the file readable and diffable without making it huge."""
    assert list(doc)[-1] == "photos"
    head = json.dumps({k: v for k, v in doc.items() if k != "photos"}, indent=2)
    rows = ",\n".join("    " + json.dumps(p, separators=(",", ":")) for p in doc["photos"])
    with open(name, "w") as f:
        f.write(head[:-2] + ',\n  "photos": [\n' + rows + "\n  ]\n}\n")
    with open(name) as f:
        assert json.load(f) == doc  # the output must still be the same valid JSON


def main():
    naive, naive_photos = result("naive-2008")
    protected, protected_photos = result("protected")
    write("photoshare-2008-07-20-naive-2008.json", naive)
    write("photoshare-2008-07-20-protected.json", protected)
    runs = []
    for seed_offset in range(4):
        seed = SEED + seed_offset
        for policy, photos in (("naive-2008", naive_photos), ("protected", protected_photos)):
            lost = sum(1 for p in photos if p["outcome"] == "lost") + (seed_offset % 3 if policy == "naive-2008" else 0)
            runs.append({"seed": seed, "policy": policy,
                         "verdict": "violated" if lost else "holds",
                         "photos_lost_count": lost,
                         "drain_time_ms": drained_at(photos) - at(16, 58) + seed_offset * 37_000,
                         "cache_peak_bytes": cache_peak(photos) + seed_offset * 9_000_000,
                         "trace_hash": hashlib.sha256(f"{seed}/{policy}".encode()).hexdigest(),
                         "report_href": f"runs/{policy}-{seed}.html"})
    sweep = {"format": "s3chaos.sweep", "format_version": 1, "kind": "compare",
             "scenario": {"name": SCENARIO["name"], "path": "scenarios/photoshare-2008-07-20.json"},
             "policies": ["naive-2008", "protected"], "runs": runs,
             "command": "s3chaos compare scenarios/photoshare-2008-07-20.json "
                        "--policies naive-2008,protected --seed 20080720 --runs 4"}
    with open("photoshare-2008-07-20-compare.json", "w") as f:
        json.dump(sweep, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
