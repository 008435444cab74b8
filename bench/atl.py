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

    from atlembic import commands  # noqa: F401  (the imports are timed here)
    from atlembic.cli import collector_paused, exit_now
    from atlembic.config import load_settings

    if args.no_cache:
        from atlembic.replay import cache as replay_cache

        replay_cache.disable()
    stages: dict[str, float] = {"import": time.perf_counter() - start}
    with collector_paused():  # as the CLI runs a command
        result = run(args.command, load_settings(args.config, url=args.url), stages)
    result["stages"] = stages
    with open(args.timings, "w") as f:
        json.dump(result, f)
    exit_now(0)  # as the CLI ends


def run(command: str, settings, stages: dict[str, float]) -> dict:  # noqa: ANN001
    from atlembic import commands

    began = time.perf_counter()
    result: dict = {}
    if command == "check":
        outcome = commands.check(settings)
        stages.update(outcome.timings.stages)
        result["changes"] = len(outcome.plan.statements)
    elif command == "revision":
        outcome = commands.revision(settings, "bench change", autogenerate=True)
        stages.update(outcome.timings.stages)
        result["changes"] = len(outcome.plan.statements)
        result["path"] = str(outcome.path) if outcome.path else None
    else:
        outcome = commands.upgrade(settings, "head")
        stages["apply"] = time.perf_counter() - began
        result["applied"] = len(outcome.applied)
    stages["command"] = time.perf_counter() - began
    return result


if __name__ == "__main__":
    main()
