"""Wall time of ``tomokit plugins list`` against ``python -c "import tensorflow"``.

Target: ``tomokit plugins list`` with every package installed finishes in under 1 s,
because discovery reads specs and never imports heavy frameworks.

    python benchmarks/plugins_list_time.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def _time(cmd: list[str], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ours = _time([sys.executable, "-m", "tomokit.cli", "plugins", "list", "--format", "json"], args.repeats)
    peer = _time([sys.executable, "-c", "import tensorflow"], args.repeats)
    bare = _time([sys.executable, "-c", "pass"], args.repeats)
    m_ours, m_peer, m_bare = (statistics.median(t) for t in (ours, peer, bare))
    print(f"python -c pass (interpreter start):  median {m_bare:.3f} s")
    print(f"tomokit plugins list:                median {m_ours:.3f} s  (target < 1 s)")
    print(f"python -c 'import tensorflow':       median {m_peer:.3f} s")
    print(f"ratio tomokit / import tensorflow:   {m_ours / m_peer:.2f}")
    print("verdict:", "PASS" if m_ours < 1.0 else "FAIL", f"({args.repeats} repeats each)")


if __name__ == "__main__":
    main()
