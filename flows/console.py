"""What the command line shows: rich tables and progress bars, counts and UIDs only."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from spokesync.catalog.vocabulary import Status
from spokesync.flows.console_progress import phased
from spokesync.flows.console_records import short
from spokesync.tasks.config import Config
from spokesync.tasks.reports.night import human_bytes


def print_spokes(console: Console, config: Config) -> None:
    table = Table("spoke", "source", "where", title=f"spokes in {config.file}")
    for name, spoke in sorted(config.spokes.items()):
        table.add_row(name, spoke.source, spoke_source(spoke).partition(" ")[2])
    console.print(table)


def spoke_source(spoke) -> str:
    """One line on where a spoke's manifests come from (never its credentials)."""
    if spoke.source == "drop":
        return f"drop {spoke.drop or '(none: pass --drop)'}"
    if spoke.source == "dicomweb":
        return f"dicomweb {spoke.url}"
    how = "C-GET" if spoke.retrieve == "get" else f"C-MOVE to port {spoke.storage_port}"
    return f"dimse {spoke.called_aet}@{spoke.host}:{spoke.port} ({how}, as {spoke.calling_aet})"


def print_pull(console: Console, spoke, result) -> None:
    console.print(
        f"drop {result.drop}: {result.instances} instances of {result.studies} studies from "
        f"{spoke_source(spoke)} in {result.seconds:.1f} s; {result.fetched} object(s) fetched, "
        f"{result.known} already held by the hub",
        soft_wrap=True,  # one line per fact, whatever the path's length: logs and greps keep it
        highlight=False,
    )
    if result.unsupplied:
        console.print(
            f"the spoke did not return {', '.join(result.unsupplied)}: filled from the objects "
            "and the catalog, so changes to them are not seen from this spoke",
            soft_wrap=True,
        )


def build_with_progress(console: Console, dicom_dir: Path, spoke: str, out: Path):
    """Run the manifest build showing each phase: workers starting, files read, objects copied,
    the manifest written (on a terminal only)."""
    from spokesync.tasks.manifest import build

    units = {build.READING: "files", build.COPYING: "objects"}
    with phased(console, units) as progress:
        return build.build_drop(Path(dicom_dir), spoke, Path(out), progress=progress)


def print_build(console: Console, result, out: Path) -> None:
    console.print(
        f"drop {out}: {result.rows_written} instances in manifest, "
        f"{result.rejected} file(s) rejected"
        + (f" (see {Path(out) / 'rejected.csv'})" if result.rejected else "")
    )


def print_runs(console: Console, results: dict[str, dict]) -> None:
    """One row per spoke run; says plainly when nothing new was archived."""
    table = Table(
        "spoke",
        "status",
        "manifest rows",
        "new instances",
        "TARs",
        "bytes",
        "cc records",
        title="runs",
    )
    for spoke, r in sorted(results.items()):
        if r["status"] == "failed":
            table.add_row(spoke, "[red]failed[/]", "", "", "", "", "")
            continue
        table.add_row(
            spoke,
            r["status"],
            str(r["manifest_rows"]),
            str(r["new_instances"]),
            str(r["tars_written"]),
            human_bytes(r["bytes_archived"]),
            str(r["cc_records"]),
        )
    console.print(table)
    for spoke, r in sorted(results.items()):
        if r["status"] == "failed":
            console.print(f"[red]{spoke} failed:[/] {escape(str(r['error']))}", highlight=False)
        elif r["status"] == "committed" and r["new_instances"] == 0 and r["cc_records"] == 0:
            console.print(
                f"{spoke}: nothing new to archive; the catalog already holds "
                "every instance of this manifest"
            )
        elif r["status"] == "dry_run":
            console.print(f"{spoke}: dry run, nothing changed; plan written to {r['plan']}")


def run_nightly(console: Console, config_file: Path, *, wait: bool) -> bool:
    """Run the nightly flow and print every spoke's outcome; False if any spoke failed."""
    from spokesync.flows.reconcile import SpokesFailed, nightly_reconcile

    state = nightly_reconcile(config_file=str(config_file), wait=wait, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, SpokesFailed):
        print_runs(console, result.results)
        return False
    if isinstance(result, Exception):
        console.print(f"[bold red]error:[/] {escape(str(result))}", highlight=False)
        return False
    print_runs(console, result)
    return True


def print_catalog(console: Console, rows: list[dict], config: Config) -> None:
    table = Table(
        "spoke",
        "studies",
        "series",
        "instances",
        "TARs",
        "bytes",
        title="what the hub holds in nearline",
    )
    for r in rows:
        table.add_row(
            r["spoke"],
            str(r["studies"]),
            str(r["series"]),
            str(r["instances"]),
            str(r["tars"]),
            human_bytes(r["bytes"]),
        )
    console.print(table)
    console.print(
        f"catalog: {config.catalog}\nnearline: {', '.join(map(str, config.volumes))}"
        f"\nwork folders of each run (manifest, plan, batches): {config.work}"
        f"\nreports: {config.reports} (try `spokesync report changes --config {config.file}` "
        f"or `spokesync report html --out report.html --config {config.file}`)"
        f"\nconfiguration: {config.file}"
    )


def print_findings(console: Console, findings: list, checked: int, tars: int | None = None) -> None:
    within = "" if tars is None else f" in {tars} TARs"
    if not findings:
        console.print(
            f"nearline verified: {checked} stored objects{within} match the catalog, "
            "no orphan or partial TARs"
        )
        return
    if tars is not None:
        console.print(f"checked {checked} stored objects{within}")
    for f in findings:  # one line each, full paths, so an administrator can copy or grep them
        member = f" member {f.member}" if f.member else ""
        console.print(
            f"[red]{f.kind}[/] {Path(f.volume) / f.relpath}{member}: {f.detail}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(f"  affected: {affected_uids(f)}", highlight=False, soft_wrap=True)
    console.print(f"[red]{len(findings)} problem(s)[/] in nearline; the catalog was not changed")


def affected_uids(finding, most: int = 10) -> str:
    """The studies, series and SOP instances a finding touches, in full (many SOPs: a count)."""
    sops = f"SOP instances {', '.join(finding.sops)}" if finding.sops else ""
    if len(finding.sops) > most:
        sops = f"{len(finding.sops)} SOP instances"
    parts = [f"studies {', '.join(finding.studies)}" if finding.studies else "",
             f"series {', '.join(finding.series)}" if finding.series else "", sops]  # fmt: skip
    return "; ".join(p for p in parts if p) or "nothing known"


WOULD = {Status.APPLIED: "would apply", Status.PENDING_REVIEW: "would wait for review",
         Status.REJECTED: "would be rejected"}  # fmt: skip


def print_plan(console: Console, records_path: Path, *, dry_run: bool = False) -> None:
    """The plan: kind, studies before → after, instances and attributes of each record; a dry
    run labels each row with what WOULD happen, since nothing did."""
    import json

    import pyarrow.parquet as pq

    if not records_path.exists():
        return
    records = pq.read_table(records_path).to_pylist()
    title = f"plan: {len(records)} record(s)" + (" (dry run: nothing changed)" if dry_run else "")
    table = Table("kind", "would" if dry_run else "status", "studies before → after",
                  "instances", "attributes", title=title)  # fmt: skip
    for r in records:
        attributes = json.loads(r["attributes"]) if r["attributes"] else {}
        shown = ", ".join(f"{k} changed" for k in sorted(attributes))  # never the values
        table.add_row(
            r["kind"],
            WOULD.get(r["status"], f"would be {r['status']}") if dry_run else r["status"],
            f"{short(r['source_study_uids'])} → {short(r['target_study_uids'])}",
            str(r["instances"]),
            shown,
        )
    console.print(table)


def parse_since(value: str | None):
    """--since as an aware datetime (a bare date means its midnight UTC)."""
    from datetime import UTC, datetime

    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since {value!r} is not an ISO date or time, e.g. 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def touching_study(
    console: Console, records: list[dict], study: str, current: list[str], resolved: bool
) -> list[dict]:
    """Records whose studies include `study` or what it resolved to, saying when it resolved."""
    if resolved:
        console.print(
            f"resolved old study UID {study} to {', '.join(current) or 'none'}", soft_wrap=True
        )
    wanted = {study, *current}
    return [r for r in records if wanted & {*r["source_study_uids"], *r["target_study_uids"]}]
