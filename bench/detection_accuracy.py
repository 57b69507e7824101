"""Detection precision and recall over random simulator sequences (issue 3's closing figure).

    .venv/bin/python bench/detection_accuracy.py [-n 200] [--seed 0] [--work var/bench/accuracy]

As tests/integration/test_detection_properties.py does: the sample spoke `north` (real DICOM
objects) is archived once; then, per example, 1 to 5 random operations of any kind and either
UID convention (simulator.random_operations) make a new drop with its ground truth, a
copy of the archived hub reconciles it, and the cc records the run wrote are compared with the
ground truth as multisets of (kind, status, sources, targets, attributes). --ambiguous more
examples run the two-drop ambiguous pairing (simulator.make_ambiguous).
"""

from __future__ import annotations

import argparse
import random
import shutil
import time
from pathlib import Path

import simulator as sim
from bench.scoring import expected_keys, found_keys, summary, table, tally
from simulator.samples import write_sample_spoke
from spokesync.tasks.config import Config, add_spoke, init_config, load_config
from spokesync.tasks.manifest.build import build_drop
from spokesync.tasks.reconcile.run import run_spoke

SPOKE = "north"


def archived_hub(work: Path) -> tuple[Path, Path]:
    """The sample spoke's drop and a hub that has archived it once (built on first use)."""
    drop, hub = work / "sample-drop", work / "archived-hub"
    if not (hub / "done").exists():
        shutil.rmtree(work, ignore_errors=True)
        write_sample_spoke(SPOKE, work / "sample-sources")
        build_drop(work / "sample-sources", SPOKE, drop)
        file = init_config(hub)
        add_spoke(file, SPOKE, drop)
        run_spoke(load_config(file), SPOKE)
        (hub / "done").touch()
    return drop, hub


def copy_hub(template: Path, to: Path, drop: Path) -> Config:
    """A private copy of the archived hub (its paths are relative), pointed at `drop`."""
    shutil.rmtree(to, ignore_errors=True)
    shutil.copytree(template, to)
    add_spoke(to / "spokesync.toml", SPOKE, drop)
    return load_config(to / "spokesync.toml")


def one_example(sample: Path, hub: Path, folder: Path, seed: int, count: int) -> tuple:
    """Apply `count` random operations, reconcile, return (expected, found) record keys."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ops = sim.random_operations(sim.manifest_of(sample), random.Random(seed), count)
    truth = sim.apply_operations(sample, ops, folder / "drop", seed=f"p{seed}")
    config = copy_hub(hub, folder / "hub", folder / "drop")
    result = run_spoke(config, SPOKE, allow_mass_delete=True)
    found = found_keys(config.catalog, result["run_id"])
    shutil.rmtree(folder, ignore_errors=True)
    return expected_keys(truth), found


def ambiguous_example(sample: Path, hub: Path, folder: Path, seed: int) -> list[tuple]:
    """DESIGN §4's ambiguous pairing: twins added (NEW_OBJECTS), then moved (AMBIGUOUS).

    Random sequences never hold AMBIGUOUS (the sample has no twins), so it is run as the
    simulator's two-drop recipe on a random study; returns both runs' (expected, found).
    """
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    study = random.Random(seed).choice(sim.study_uids(sim.manifest_of(sample)))
    before, after = folder / "before", folder / "after"
    truths = sim.make_ambiguous(sample, before, after, study, seed=f"a{seed}")
    config = copy_hub(hub, folder / "hub", before)
    pairs = []
    for drop, truth in zip((before, after), truths, strict=True):
        add_spoke(config.file, SPOKE, drop)
        result = run_spoke(load_config(config.file), SPOKE, allow_mass_delete=True)
        pairs.append((expected_keys(truth), found_keys(config.catalog, result["run_id"])))
    shutil.rmtree(folder, ignore_errors=True)
    return pairs


def all_examples(work: Path, examples: int, ambiguous: int, seed: int) -> list[tuple]:
    """(expected, found) per run; runs that differ from the ground truth are printed."""
    sample, hub = archived_hub(work)
    draw, pairs = random.Random(seed), []
    for number in range(examples):
        example_seed, count = draw.randrange(2**32), draw.randint(1, 5)
        pair = one_example(sample, hub, work / "example", example_seed, count)
        pairs.append((f"example {number} (seed {example_seed}, {count} operations)", pair))
    for number in range(ambiguous):
        for pair in ambiguous_example(sample, hub, work / "example", number):
            pairs.append((f"ambiguous pair {number}", pair))
    for name, (expected, found) in pairs:
        if sorted(expected) != sorted(found):
            print(f"{name} differs:\n  expected {sorted(expected)}\n  found    {sorted(found)}")
    return [pair for _, pair in pairs]


def main(argv: list[str] | None = None) -> None:
    """Score the examples and print precision, recall and the counts per kind."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--examples", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ambiguous", type=int, default=10, help="ambiguous-pairing examples")
    parser.add_argument("--work", type=Path, default=Path("var/bench/accuracy"))
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pairs = all_examples(args.work.absolute(), args.examples, args.ambiguous, args.seed)
    exact = sum(sorted(expected) == sorted(found) for expected, found in pairs)
    per_kind = tally(pairs)
    totals = summary(per_kind)
    print(f"{args.examples} sequences of 1-5 operations and {args.ambiguous} ambiguous pairs "
          f"({len(pairs)} runs), {exact} runs recovered exactly, "
          f"{time.perf_counter() - start:.0f} s")  # fmt: skip
    print(f"precision {totals['precision']:.4f}, recall {totals['recall']:.4f}")
    print(table(per_kind))


if __name__ == "__main__":
    main()
