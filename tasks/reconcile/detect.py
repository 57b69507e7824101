"""What changed at a spoke: the decisions of DESIGN §4 over study-level facts (pure, no I/O).

Pairing is set-based SQL in catalog/sql/detect.sql; it hands over only study-level edges
("instances of catalog study X now sit in manifest study Y") and facts. This module turns them
into the cc records a run would create. It never sees an instance list.

Adding a kind of cc record touches, in order:
- [ ] catalog/vocabulary.py: a `Kind` member; in `ALWAYS_REVIEWED` if it waits for a person,
      in `DECIDABLE` if `review approve` applies it, in `NOT_REVERTIBLE` if it cannot be undone
- [ ] here: the shape that yields it (`shape_of`) or its own `plan_*` function
- [ ] catalog/sql/detect.sql: any new temp table its plan reads
- [ ] tasks/reconcile/plan_tables.py (members, UID map) or plan_values.py (changed values):
      the Parquet rows it writes
- [ ] catalog/sql/apply.sql and catalog/apply.py: how the catalog applies it
- [ ] catalog/review.py and flows/cli/review.py: approving it, if it is decidable
- [ ] catalog/revert.py and catalog/sql/revert.sql: undoing it; catalog/sql/iocm.sql if the
      IOCM export lists it
- [ ] tasks/retrieve/edit.py: how retrieval rewrites objects it touched, if it changes values
- [ ] simulator/ (ops, moves or edits, truth): an operation that makes it, with its ground truth;
      tests/truth/ and bench/scoring.py score it
- [ ] tests/unit/test_detect.py, README "What a run detects" and docs/reports.md
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spokesync.catalog.vocabulary import Kind, Status, initial_status

PENDING = Status.PENDING_REVIEW
APPLIED = Status.APPLIED
REIDENTIFY = "REIDENTIFY"  # a shape only: recorded as UID_FIX


@dataclass(frozen=True)
class Edge:
    source: str  # catalog study that lost instances (or whose instances were copied)
    target: str  # manifest study that holds them now
    moved: int
    copies: int


@dataclass(frozen=True)
class StudyFact:
    study: str
    in_catalog: bool
    reported: bool
    kept: int  # instances that stayed in this study
    catalog_patient: str | None
    manifest_patient: str | None
    owner: str | None = None


@dataclass
class Planned:
    """One cc record a run would create."""

    rec: int
    kind: str
    status: str
    sources: tuple[str, ...]
    targets: tuple[str, ...]
    attributes: dict[str, list] = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    edges: tuple[Edge, ...] = ()
    role: str | None = None  # for study-keyed records: inplace | delete | new
    reason_code: str | None = None
    series: str | None = None


def components(edges: list[Edge]) -> list[list[Edge]]:
    """Group edges that share a study (union-find), in a stable order."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in edges:
        parent[find(e.source)] = find(e.target)
    groups: dict[str, list[Edge]] = {}
    for e in edges:
        groups.setdefault(find(e.source), []).append(e)
    return sorted(groups.values(), key=lambda g: (min(e.source for e in g), g[0].target))


def shape_of(group: list[Edge], facts: dict[str, StudyFact]) -> tuple[str, tuple, tuple]:
    """Kind of one component of moves: MERGE, SPLIT, SEGMENT, REIDENTIFY or AMBIGUOUS."""
    sources = tuple(sorted({e.source for e in group}))
    targets = tuple(sorted({e.target for e in group}))
    copies = sum(e.copies for e in group)
    if len(sources) > 1:
        kind = Kind.MERGE if len(targets) == 1 else Kind.AMBIGUOUS
        return kind, sources, targets
    x = facts[sources[0]]
    emptied = x.kept == 0
    if len(targets) == 1 and copies == 0 and emptied and targets[0] != x.study:
        kind = Kind.MERGE if facts[targets[0]].in_catalog else REIDENTIFY
        return kind, sources, targets
    if copies == 0 and any(facts[t].manifest_patient != x.catalog_patient for t in targets):
        return Kind.SPLIT, sources, targets
    held = set(targets) | (set() if emptied else {x.study})
    return Kind.SEGMENT, sources, tuple(sorted(held))


def attribute_map(changes: list[dict]) -> dict[str, list]:
    return {c["attribute"]: [c["old"], c["new"]] for c in changes}


class RecordBook:
    """Numbers records in the order they are planned."""

    def __init__(self) -> None:
        self.records: list[Planned] = []

    def add(self, kind: str, sources: tuple, targets: tuple, **extra) -> Planned:
        status = initial_status(kind)
        record = Planned(len(self.records) + 1, kind, status, sources, targets, **extra)
        self.records.append(record)
        return record


def plan_moves(
    book: RecordBook,
    edges: list[Edge],
    facts: dict[str, StudyFact],
    changes_of: dict[tuple[str, str], list[dict]],
) -> list[tuple[str, str]]:
    """A record per component of moves; returns the re-identified (source, target) pairs."""
    reidentified = []
    for group in components(edges):
        kind, sources, targets = shape_of(group, facts)
        extra = {"edges": tuple(group), "evidence": _edge_evidence(group)}
        if kind == REIDENTIFY:
            # A study whose UID changed waits for a person whatever changed with it (DESIGN §4):
            # Orthanc's modify without Keep re-identifies the whole study along with its values.
            kind = Kind.UID_FIX
            extra["attributes"] = attribute_map(changes_of.get((sources[0], targets[0]), []))
            reidentified.append((sources[0], targets[0]))
        book.add(kind, sources, targets, **extra)
    return reidentified


def _edge_evidence(group: list[Edge]) -> dict:
    return {"moves": [[e.source, e.target, e.moved, e.copies] for e in group]}


def plan_attributes(
    book: RecordBook,
    study_changes: list[dict],
    series_changes: list[dict],
    reidentified: set[tuple[str, str]],
) -> None:
    """ATTRIBUTES records: one per study for patient/study values, one per corrected series."""
    by_study: dict[str, list[dict]] = {}
    for c in study_changes:
        if (c["source"], c["target"]) not in reidentified and c["source"] == c["target"]:
            by_study.setdefault(c["source"], []).append(c)
    for study, changes in sorted(by_study.items()):
        book.add(
            Kind.ATTRIBUTES,
            (study,),
            (study,),
            attributes=attribute_map(changes),
            evidence={"levels": sorted({c["level"] for c in changes})},
        )
    by_series: dict[tuple[str, str], list[dict]] = {}
    for c in series_changes:
        by_series.setdefault((c["study"], c["series"]), []).append(c)
    for (study, series), changes in sorted(by_series.items()):
        book.add(
            Kind.ATTRIBUTES,
            (study,),
            (study,),
            attributes=attribute_map(changes),
            series=series,
            evidence={"levels": ["series"], "series": series},
        )


def plan_deletions(book: RecordBook, gone: list[dict], spoke: str = "") -> None:
    """A DELETE record per study (and per reason code of explicit deletions).

    A spoke deleting instances another spoke owns (a partial copy, a deletions.parquet naming
    the owner's study) waits for review: only the owner's deletions apply (DESIGN §6).
    """
    for g in gone:
        evidence = {"instances": g["instances"]}
        if g["reason_code"]:
            evidence |= {"reason_code": g["reason_code"], "reason_text": g["reason_text"]}
        others = sorted(set(g.get("owners") or ()) - {spoke}) if spoke else []
        record = book.add(
            Kind.DELETE,
            (g["study"],),
            (),
            role="delete",
            reason_code=g["reason_code"],
            evidence=evidence,
        )
        if others:
            record.status = PENDING
            record.evidence["held"] = {"non_owner_deletion": others}


def plan_new(book: RecordBook, fresh: list[dict]) -> None:
    """A NEW_OBJECTS record per study that gains objects nothing in scope pairs with."""
    for f in fresh:
        book.add(
            Kind.NEW_OBJECTS,
            (),
            (f["study"],),
            role="new",
            evidence={"paired_by": "new", "instances": f["instances"], "series": f["series"]},
        )


def plan_ambiguous(book: RecordBook, groups: list[dict]) -> dict[str, int]:
    """One AMBIGUOUS record per set of studies that undecidable fingerprints touch."""
    by_studies: dict[tuple, list[dict]] = {}
    for g in groups:
        by_studies.setdefault((tuple(g["sources"]), tuple(g["targets"])), []).append(g)
    fingerprint_rec = {}
    for (sources, targets), items in sorted(by_studies.items()):
        record = book.add(
            Kind.AMBIGUOUS,
            sources,
            targets,
            evidence={
                "fingerprints": [g["fingerprint"] for g in items],
                "rows": sum(g["rows_"] for g in items),
                "instances": sum(g["instances_"] for g in items),
            },
        )
        fingerprint_rec.update({g["fingerprint"]: record.rec for g in items})
    return fingerprint_rec


def apply_ownership(book: RecordBook, facts: dict[str, StudyFact], spoke: str, policy: str) -> None:
    """Flag changes to studies another spoke owns; under "enforce" they wait for review."""
    for record in book.records:
        studies = record.sources or record.targets
        owners = sorted(
            {facts[s].owner for s in studies if s in facts and facts[s].owner} - {spoke}
        )
        if not owners:
            continue
        record.evidence["ownership"] = {"owners": owners, "spoke": spoke, "policy": policy}
        if policy == "enforce":
            record.status = PENDING
