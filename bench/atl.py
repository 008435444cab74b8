"""One atlembic command, run the way the CLI runs it, that also reports its per-stage timings.

    python bench/atl.py check|revision|upgrade [-c alembic.ini] [--url URL] [--no-cache] --timings OUT.json

The harness (bench/run.py) times the whole process from outside (interpreter start-up and imports
included) and reads the stages, as `Timings` recorded them, from OUT.json.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    start = time.perf_counter()
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=("check", "revision", "upgrade"))
    parser.add_argument("-c", "--config")
    parser.add_argument("--url")
    parser.add_argument("--no-cache", action="store_true")
    parser.add_argument("--timings", required=True)
    args = parser.parse_args()

    from atlembic import commands
    from atlembic.config import load_settings

    if args.no_cache:
        from atlembic import replay_cache

        replay_cache.disable()
    stages: dict[str, float] = {"import": time.perf_counter() - start}
    began = time.perf_counter()
    settings = load_settings(args.config, url=args.url)
    result: dict = {}
    if args.command == "check":
        outcome = commands.check(settings)
        stages.update(outcome.timings.stages)
        result["changes"] = len(outcome.plan.statements)
    elif args.command == "revision":
        outcome = commands.revision(settings, "bench change", autogenerate=True)
        stages.update(outcome.timings.stages)
        result["changes"] = len(outcome.plan.statements)
        result["path"] = str(outcome.path) if outcome.path else None
    else:
        applied_start = time.perf_counter()
        outcome = commands.upgrade(settings, "head")
        stages["apply"] = time.perf_counter() - applied_start
        result["applied"] = len(outcome.applied)
    stages["command"] = time.perf_counter() - began
    result["stages"] = stages
    with open(args.timings, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
