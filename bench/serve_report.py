"""bench/serve.py's figures as Markdown tables (pasted into docs/benchmarks-serve.md)."""

from __future__ import annotations

import statistics

from bench.serve_find import KINDS


def _header(*columns: str) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _find_rows(find: dict) -> list[str]:
    rows = _header("readers", "clients", "kind", "median ms", "p95 ms", "median matches",
                   "queries/s", "errors", "load (1 min)")  # fmt: skip
    for readers, by_clients in find.items():
        for clients, result in by_clients.items():
            for kind in (*KINDS, "all"):
                got = result[kind]
                rate = f"{result['queries_per_second']:.1f}" if kind == "all" else ""
                rows.append(
                    f"| {readers} | {clients} | {kind} | {got['median_ms']} | {got['p95_ms']} | "
                    f"{got.get('median_matches', '')} | {rate} | {len(result['errors'])} | "
                    f"{result['load_1min']} |"
                )
    return rows


def _throughput_rows(document: dict) -> list[str]:
    rows = _header("repetition", "WADO-RS MB/s", "C-GET MB/s", "bare TAR read MB/s",
                   "C-MOVE to Orthanc MB/s", "retrieve --to Orthanc MB/s", "MB",
                   "load (1 min)")  # fmt: skip
    for number, (wado, move) in enumerate(zip(document["wado"], document["move"], strict=False)):
        rows.append(
            f"| {number + 1} | {wado['wado_bytes'] / 1e6 / wado['wado_seconds']:.1f} | "
            f"{wado['get_bytes'] / 1e6 / wado['get_seconds']:.1f} | "
            f"{wado['bare_bytes'] / 1e6 / wado['bare_seconds']:.1f} | "
            f"{move['bytes'] / 1e6 / move['move_seconds']:.1f} | "
            f"{move['bytes'] / 1e6 / move['retrieve_to_seconds']:.1f} | "
            f"{wado['wado_bytes'] / 1e6:.1f} | {wado['load_1min']}, {move['load_1min']} |"
        )
    if document["wado"] and document["move"]:
        wado = statistics.median(
            w["wado_bytes"] / 1e6 / w["wado_seconds"] for w in document["wado"]
        )
        get = statistics.median(w["get_bytes"] / 1e6 / w["get_seconds"] for w in document["wado"])
        move = statistics.median(m["bytes"] / 1e6 / m["move_seconds"] for m in document["move"])
        rows.append(f"| median | {wado:.1f} | {get:.1f} | | {move:.1f} | | | |")
    return rows


def _load_rows(load: dict) -> list[str]:
    rows = _header("readers", "seconds", "requests", "requests/s", "studies/s", "MB/s", "errors",
                   "RSS MiB before / peak / after", "load (1 min)")  # fmt: skip
    for readers, got in load.items():
        rss = got["rss_mib"]
        rows.append(
            f"| {readers} | {got['seconds']} | {got['requests']} | "
            f"{got['requests_per_second']:.1f} | {got['studies_per_second']:.2f} | "
            f"{got['mb_per_second']:.1f} | {got['errors']} | "
            f"{rss['before']} / {rss['peak']} / {rss['after']} | {got['load_1min']} |"
        )
    return rows


def write_markdown(document: dict) -> str:
    """The three tables, with the command's arguments and the machine."""
    args, machine = document["args"], document["machine"]
    head = [
        f"Arguments: {args}.",
        f"Machine: {machine['nproc']} cores ({machine['cpu']}), {machine['memory_gib']} GiB, "
        f"Python {machine['python']}, DuckDB {machine['duckdb']}; 1-minute load at start "
        f"{machine['load_average_1min']}.",
        "",
        "C-FIND, study level:",
        "",
    ]
    parts = [*head, *_find_rows(document["find"]), "", "Throughput of one study:", ""]
    parts += [*_throughput_rows(document), "", "Eight clients at once:", ""]
    parts += _load_rows(document["load"])
    return "\n".join(parts) + "\n"
