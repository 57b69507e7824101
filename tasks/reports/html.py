"""The human report: one self-contained HTML file with Plotly charts and the tables behind them.

plotly.js is inlined once (`include_plotlyjs=True`), so the file opens offline, from a mail
attachment or a share, with no network. Counts, UIDs and attribute names only, never values.
"""

from __future__ import annotations

import html
import os
from datetime import UTC, datetime
from pathlib import Path

import plotly.express as px
import plotly.graph_objects as go
import pyarrow as pa

from spokesync.catalog.report_views import chart_tables, open_reports, query
from spokesync.tasks.reports.night import (
    BYTE_COLUMNS,
    header,
    human_bytes,
    last_night,
    last_night_changes,
)

CHART_TITLES = {
    "daily_changes": "Changes per kind, spoke and night",
    "backlog": "Pending-review backlog after each run",
    "pending_age": "Age of the open reviews",
    "nearline_growth": "Nearline growth per volume",
    "ownership_counts": "Ownership violations: records per spoke and owner",
}
CATEGORY_X = ("daily_changes", "nearline_growth", "pending_age")
TABLE_TITLES = {
    "runs": "Runs",
    "pending_review": "Open reviews",
    "ownership": "Ownership violations",
    "stale_copies": "Stale copies",
    "nearline": "Nearline per volume and day",
    "discrepancies": "Discrepancies",
}
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; }
.chart { border: 1px solid #ddd; margin: 1em 0; padding: .5em; }
table { border-collapse: collapse; font-size: .8em; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #eef; } td.t { white-space: nowrap; }
td.uid { word-break: break-all; min-width: 14em; } td.n { text-align: right; }
.summary table { font-size: 1em; }
"""
ONE_LINE = frozenset({"run_id", "last_run", "kind", "status"})
# What the report reads beside the tables of TABLE_TITLES (the last night's summary and changes).
READS = (*TABLE_TITLES, "changes")


def figures(charts: dict[str, pa.Table], pending: pa.Table) -> dict[str, go.Figure]:
    """One Plotly figure per chart; an empty table gets a figure that says so."""
    frames = {name: table.to_pandas() for name, table in charts.items()}
    frames["pending_age"] = pending.select(["seq", "kind", "age_hours"]).to_pandas()
    for frame in frames.values():  # nights, days and seqs are labels on a category axis
        for column in ("night", "day", "seq"):
            if column in frame:
                frame[column] = frame[column].astype(str)
    draw = {
        "daily_changes": lambda f: px.bar(
            f, x="night", y="changes", color="kind", facet_col="spoke_id", barmode="stack"
        ),
        "backlog": lambda f: px.line(f, x="reported_at", y="pending", markers=True),
        "pending_age": lambda f: px.bar(f, x="seq", y=_age_unit(f), color="kind"),
        "nearline_growth": lambda f: px.bar(
            f, x="day", y="total_bytes", color="volume_name", barmode="group"
        ),
        "ownership_counts": lambda f: px.bar(f, x="spoke_id", y="records", color="owner_spoke"),
    }
    out = {}
    for name, title in CHART_TITLES.items():
        frame = frames[name]
        figure = draw[name](frame) if len(frame) else _empty_figure()
        figure.update_layout(title=title, height=380, margin={"t": 60})
        if name in CATEGORY_X:  # nights and days are categories, not a continuous time axis
            figure.update_xaxes(type="category")
        if name == "nearline_growth":  # 4.2MB, not 4200000
            figure.update_yaxes(tickformat="~s", ticksuffix="B", title="total size")
        out[name] = figure
    return out


def _age_unit(frame) -> str:
    """Hours, or minutes while every open review is younger than an hour (bars stay visible)."""
    if frame["age_hours"].max() >= 1:
        return "age_hours"
    frame["age_minutes"] = frame["age_hours"] * 60
    return "age_minutes"


def _empty_figure() -> go.Figure:
    figure = go.Figure()
    figure.add_annotation(text="nothing to show yet", showarrow=False, font={"size": 16})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return figure


def table_html(table: pa.Table, *, limit: int = 500) -> str:
    """An HTML table of the first `limit` rows under human headers; every value escaped."""
    if not len(table):
        return "<p>none</p>"
    names = table.column_names
    head = "".join(f"<th title='{html.escape(n)}'>{html.escape(header(n))}</th>" for n in names)
    rows = [_row(row) for row in table.slice(0, limit).to_pylist()]
    more = f"<p>… {len(table) - limit} more rows</p>" if len(table) > limit else ""
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>{more}"


def _row(row: dict) -> str:
    """UIDs may wrap anywhere, sizes align right, times and run ids stay on one line."""
    cells = []
    for name, value in row.items():
        kind = "uid" if "_uid" in name else "n" if name in BYTE_COLUMNS else ""
        if isinstance(value, datetime) or name in ONE_LINE:
            kind = "t"
        cells.append(f"<td class='{kind}'>{html.escape(_cell(value, name))}</td>")
    return f"<tr>{''.join(cells)}</tr>"


def _cell(value, column: str = "") -> str:
    if value is None:
        return ""
    if column in BYTE_COLUMNS:
        return human_bytes(value)
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def render(charts: dict[str, pa.Table], tables: dict[str, pa.Table], generated: datetime) -> str:
    """The whole page: charts (plotly.js inlined with the first), then the tables."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>spokesync report</title><style>{STYLE}</style></head><body>",
        "<h1>spokesync report</h1>",
        f"<p>Generated {generated:%Y-%m-%d %H:%M} UTC from the report Parquet files.</p>",
        *summary_html(tables),
    ]
    parts.append("<h2 id='charts'>Charts</h2>")
    for index, (name, figure) in enumerate(figures(charts, tables["pending_review"]).items()):
        div = figure.to_html(
            full_html=False,
            include_plotlyjs=index == 0,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
        parts.append(f"<section class='chart' id='section-{name}'>{div}")
        parts.append(f"<details><summary>data</summary>{table_html(charts.get(name, _none()))}")
        parts.append("</details></section>")
    for name, title in TABLE_TITLES.items():
        parts.append(f"<h2 id='table-{name}'>{html.escape(title)}</h2>{table_html(tables[name])}")
    parts.append("</body></html>")
    return "\n".join(parts)


def summary_html(tables: dict[str, pa.Table]) -> list[str]:
    """The page's opening: each spoke's last run, then the cc records those runs wrote."""
    summary = last_night(tables["runs"], tables["changes"], tables["pending_review"])
    changes = last_night_changes(tables["runs"], tables["changes"]).drop_columns(["run_id"])
    return [
        "<section class='summary' id='last-night'><h2>Last night</h2>",
        "<p>Each spoke's most recent run: its status, the objects it archived, the change "
        "records (cc records) it wrote by kind, and the reviews open for the spoke now.</p>",
        table_html(summary),
        "</section><section id='last-night-changes'><h2>Last night's changes</h2>",
        table_html(changes),
        "</section>",
    ]


def _none() -> pa.Table:
    return pa.table({"see": ["the open reviews table below"]})


def write_html(reports: Path, out: Path) -> Path:
    """Render the report from the Parquet files (never the catalog) and write it atomically."""
    con = open_reports(reports)
    try:
        charts = chart_tables(con)
        tables = {name: query(con, name) for name in READS}
    finally:
        con.close()
    page = render(charts, tables, datetime.now(UTC))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    temp.write_text(page, "utf-8")
    os.replace(temp, out)
    return out
