"""Row 11 of the benchmark alone (README "Performance"): a job's wrapper,
`ops-atomic run bench -- /bin/true`, against `/bin/true`, interleaved, with
the full house's config in the root (the wrapper reads it for its secrets).
No server is started: `run` asks none.

    cargo build --release && python3 scripts/bench/jobrow.py [ROUNDS]

Prints the medians and the difference; exits 1 when it is over 3 ms.
"""

import os
import random
import sys

import harness as h
from fullhouse import FullHouse


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    exe = h.binary()
    tmp = h.setup("jobrow")
    runone = h.build_runone(tmp)
    lc = h.fake_launchctl(os.path.join(tmp, "launchctl"), ["com.02luka.redis", "com.02luka.api"])
    fh = FullHouse(os.path.join(tmp, "fullhouse"), redis="redis://127.0.0.1:1", pg="postgresql://postgres@127.0.0.1:2/x",
                   api_port=3, sink_port=4, labels=["com.02luka.redis", "com.02luka.api"],
                   process_needles=["redis-server", "postgres", "stubs.py"], tcp_ports=[5, 6, 7])
    root = fh.make_root(tmp, "root")
    env = fh.env(lc)
    scenarios = {
        "/bin/true": lambda: h.measure(runone, ["/bin/true"], env=env),
        "run": lambda: h.measure(runone, [exe, "--root", root, "run", "bench", "--", "/bin/true"], env=env),
    }
    samples = {k: [] for k in scenarios}
    order = list(scenarios)
    shuffle = random.Random(rounds).shuffle
    for i in range(10 + rounds):
        shuffle(order)
        for name in order:
            s = scenarios[name]()
            if s.code != 0:
                h.die(f"{name} exited {s.code}")
            if i >= 10:
                samples[name].append(s)
    wall = {k: h.median([s.wall_ms for s in v]) for k, v in samples.items()}
    p95 = {k: h.percentile([s.wall_ms for s in v], 95) for k, v in samples.items()}
    cpu = {k: h.median([s.cpu_ms for s in v]) for k, v in samples.items()}
    rss = {k: max(s.rss_mb for s in v) for k, v in samples.items()}
    for k in scenarios:
        print(f"{k:10} {rounds} runs: wall median {wall[k]:.2f} ms, p95 {p95[k]:.2f} ms, CPU median {cpu[k]:.2f} ms, "
              f"peak RSS max {rss[k]:.1f} MB")
    extra = wall["run"] - wall["/bin/true"]
    print(f"run adds {extra:.2f} ms (wall median), {cpu['run'] - cpu['/bin/true']:.2f} ms CPU; target ≤ 3 ms")
    records = sum(1 for _ in open(os.path.join(root, "g", "state", "jobs", "bench.jsonl")))
    print(f"{records} records written ({records // 2} runs)")
    return 0 if extra <= 3 else 1


if __name__ == "__main__":
    sys.exit(main())
