"""A synthetic city-wide election the size of the one issue 4 names (61,668 voters, 83
projects), written as a pabulib file (not part of ``make bench``; run by hand):

    .venv/bin/python -m bench.synthetic_city /tmp/city.pb [--voters N] [--seed S]
    /usr/bin/time -v .venv/bin/plaza tally /tmp/city.pb --rule equalshares/add1

Approval ballots of 1 to 10 projects drawn with a skewed popularity (so that nearly every
ballot is distinct, as in a real city-wide vote), costs from 100,000 to 3,000,000, and a
budget of a quarter of all the costs. Seeded: the same file every time.
"""

from __future__ import annotations

import argparse
import random
import sys

from app.tally.pb import PbFile, write_pb

PROJECTS = 83


def city(voters: int, seed: int) -> str:
    rng = random.Random(seed)
    ids = [str(100 + i) for i in range(PROJECTS)]
    costs = {pid: rng.randrange(100_000, 3_000_001, 1_000) for pid in ids}
    weights = [1 / (rank + 3) for rank in range(PROJECTS)]  # a few popular projects
    rng.shuffle(weights)
    votes: dict[str, dict[str, str]] = {}
    for voter in range(voters):
        k = rng.randint(1, 10)
        chosen: set[str] = set()
        while len(chosen) < k:
            chosen.add(rng.choices(ids, weights)[0])
        votes[str(voter)] = {"vote": ",".join(sorted(chosen, key=int))}
    budget = sum(costs.values()) // 4
    meta = {
        "description": "Synthetic city-wide election (bench/synthetic_city.py)",
        "country": "Nowhere",
        "unit": "Synthetic",
        "instance": str(seed),
        "num_projects": str(PROJECTS),
        "num_votes": str(voters),
        "budget": str(budget),
        "vote_type": "approval",
        "rule": "equalshares/add1",
        "max_length": "10",
    }
    projects = {pid: {"cost": str(costs[pid])} for pid in ids}
    pb = PbFile(meta=meta, projects=projects, votes=votes, name="synthetic")
    return write_pb(pb)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synthetic_city")
    parser.add_argument("path")
    parser.add_argument("--voters", type=int, default=61_668)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    with open(args.path, "w", encoding="utf-8") as out:
        out.write(city(args.voters, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
