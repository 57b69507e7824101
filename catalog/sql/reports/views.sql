-- Views and queries over the report Parquet files; they run on the report database, never
-- on the catalog, so they live apart from the catalog's blocks (catalog/report_views.py loads them).

-- name: report_view_raw
-- One table's report files as written, every run's rows (the path is quoted, views take no params).
create or replace view {view} as
select * from read_parquet({glob}, hive_partitioning = true, union_by_name = true)

-- name: report_views
-- What analysts query: one row per thing, newest reported version; snapshots pick the latest.
create or replace view runs as
select * from (  -- failed runs carry an error column; older files and committed runs do not
    select * from runs_history union all by name select null::varchar as error where false)
qualify row_number() over (partition by run_id order by reported_at desc) = 1;
create or replace view changes as
with latest as (
    select * from changes_history
    qualify row_number() over (partition by seq order by reported_at desc) = 1
), decisions as (
    select refers_to, seq as decision_seq, status as decision, created_at as decision_at,
           decided_by as decision_by
    from latest where refers_to is not null
    qualify row_number() over (partition by refers_to order by seq) = 1
)
select l.*, d.decision_seq, d.decision, d.decision_at, d.decision_by
from latest l left join decisions d on d.refers_to = l.seq;
create or replace view pending_review as
select * from pending_review_history
where report_run_id = (select arg_max(report_run_id, reported_at) from runs_history
                       where status <> 'failed');
create or replace view ownership as
select * from ownership_history
qualify row_number() over (partition by seq, study_instance_uid order by reported_at desc) = 1;
create or replace view stale_copies as
select * from stale_copies_history
where run_id in (select arg_max(run_id, started_at) from runs where status <> 'failed'
                 group by spoke_id)
qualify row_number() over (partition by run_id, study_instance_uid order by reported_at desc) = 1;
create or replace view nearline as
select * from nearline_history
qualify row_number() over (partition by run_id, volume, day order by reported_at desc) = 1;
create or replace view discrepancies as
select * from discrepancies_history
qualify row_number() over (partition by run_id, kind, row_id order by reported_at desc) = 1;
create or replace view data_quality as
select * from data_quality_history
qualify row_number() over (
    partition by run_id, kind, row_id, path, study_instance_uid, "column"
    order by reported_at desc) = 1;
create or replace view pending_backlog as
select r.report_run_id, r.reported_at, count(p.seq) as pending,
       coalesce(max(p.age_hours), 0) as oldest_hours
from runs_history r
left join pending_review_history p using (report_run_id)
where r.status <> 'failed'
group by all

-- name: report_watermark
-- The newest cc seq and report time already exported: the next report starts after them.
select coalesce(max(seq), 0), max(reported_at) from changes_history

-- name: report_query_runs
-- Runs, newest last.
select run_id, spoke_id, status, started_at, duration_seconds, manifest_rows,
       instances_archived, bytes_archived, tars_written, cc_records, error
from runs
where ($spoke is null or spoke_id = $spoke) and ($since is null or started_at >= $since)
order by started_at

-- name: report_query_changes
-- cc records in sequence order.
select seq, run_id, spoke_id, kind, status, created_at, source_study_uids,
       target_study_uids, instance_count, attribute_names, patient_changed, refers_to, decision
from changes
where ($spoke is null or spoke_id = $spoke) and ($since is null or created_at >= $since)
order by seq

-- name: report_query_pending_review
-- The open review backlog as of the newest report, oldest first.
select seq, spoke_id, kind, created_at, age_hours, source_study_uids,
       target_study_uids, instance_count, attribute_names
from pending_review
where ($spoke is null or spoke_id = $spoke) and ($since is null or created_at >= $since)
order by created_at, seq

-- name: report_query_ownership
-- Changes made by a spoke to studies another spoke owns.
select seq, spoke_id, kind, status, created_at, study_instance_uid, role, owner_spoke, policy
from ownership
where ($spoke is null or spoke_id = $spoke) and ($since is null or created_at >= $since)
order by seq, study_instance_uid

-- name: report_query_stale_copies
-- Copies spokes hold of studies their owner has changed since (each spoke's latest run).
select spoke_id, study_instance_uid, owner_spoke, difference, since, detected_at, run_id
from stale_copies
where ($spoke is null or spoke_id = $spoke) and ($since is null or detected_at >= $since)
order by spoke_id, study_instance_uid

-- name: report_query_nearline
-- Archived TARs, objects and bytes per volume and day.
select day, volume_name, spoke_id, sum(tars)::bigint as tars, sum(objects)::bigint as objects,
       sum(bytes)::bigint as bytes
from nearline
where ($spoke is null or spoke_id = $spoke) and ($since is null or day >= $since::date)
group by all
order by day, volume_name, spoke_id

-- name: report_query_discrepancies
-- Manifest rows the hub could not fully trust, with the reason.
select run_id, spoke_id, kind, row_id, sop_instance_uid, study_instance_uid, reason, detected_at
from discrepancies
where ($spoke is null or spoke_id = $spoke) and ($since is null or detected_at >= $since)
order by detected_at, run_id, row_id

-- name: report_query_data_quality
-- What real spokes sent that is off but archived anyway, and what they could not send at all.
select run_id, spoke_id, kind, file, row_id, path, sop_instance_uid, study_instance_uid,
       "column", problem, detected_at
from data_quality
where ($spoke is null or spoke_id = $spoke) and ($since is null or detected_at >= $since)
order by detected_at, run_id, kind, row_id, path, study_instance_uid

-- name: report_query_daily_changes
-- Changes per night, spoke and kind (the HTML report's first chart).
select created_at::date as night, spoke_id, kind, count(*) as changes
from changes
group by all
order by night, spoke_id, kind

-- name: report_query_backlog
-- Pending-review backlog after each report (the HTML report's backlog chart).
select reported_at, pending, round(oldest_hours, 1) as oldest_hours
from pending_backlog
order by reported_at

-- name: report_query_nearline_growth
-- Bytes archived per volume and day, with the running total.
select day, volume_name, sum(bytes)::bigint as bytes,
       (sum(sum(bytes)) over (partition by volume_name order by day))::bigint as total_bytes
from nearline
group by day, volume_name
order by volume_name, day

-- name: report_query_ownership_counts
-- Ownership violations per spoke and owner.
select spoke_id, owner_spoke, kind, count(distinct seq) as records
from ownership
group by all
order by spoke_id, owner_spoke, kind

-- name: report_reported_runs
-- The runs the reports folder already holds.
select distinct run_id from runs_history
