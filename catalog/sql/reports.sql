-- Report tables: exported from the catalog after each run, then read back from Parquet only.

-- name: report_export_runs
-- The run's own row from the run log.
select $report_run_id as report_run_id, $reported_at::timestamptz as reported_at,
       run_id, spoke_id, status, started_at, finished_at,
       epoch(finished_at) - epoch(started_at) as duration_seconds,
       manifest_generated_at, manifest_rows, instances_archived, bytes_archived, tars_written,
       cc_records
from runs
where run_id = $run_id

-- name: report_export_changes
-- One row per cc record the report carries: UIDs, attribute names, patients before and after.
with report_records as (
    select c.*,
           coalesce(list_transform(json_keys(c.attributes), k -> regexp_extract(k, '[^:]*$')),
                    []::varchar[]) as attribute_names
    from cc_records c
    where c.run_id = $run_id  -- the run's own, newer ones, and ones decided since the last report
       or c.seq > $after_seq
       or (c.decided_at is not null and c.decided_at >= $decided_since)
)
select $report_run_id as report_run_id, $reported_at::timestamptz as reported_at,
       r.seq, r.run_id, r.spoke_id, r.kind, r.status, r.created_at, r.decided_at, r.decided_by,
       r.reason, r.refers_to, r.source_study_uids, r.target_study_uids,
       len(r.source_study_uids) as source_count, len(r.target_study_uids) as target_count,
       r.instance_count, r.attribute_names, r.attributes::varchar as attributes,
       src.patients as source_patient_ids, tgt.patients as target_patient_ids,
       list_contains(r.attribute_names, 'patient_id')
         or (len(src.patients) > 0 and len(tgt.patients) > 0 and src.patients <> tgt.patients)
         as patient_changed,
       r.evidence::varchar as evidence
from report_records r,
     lateral (select coalesce(list(distinct s.patient_id order by s.patient_id), []) as patients
              from studies s
              where list_contains(r.source_study_uids, s.study_instance_uid)) src,
     lateral (select coalesce(list(distinct s.patient_id order by s.patient_id), []) as patients
              from studies s
              where list_contains(r.target_study_uids, s.study_instance_uid)) tgt
order by r.seq

-- name: report_export_pending_review
-- Every open pending-review record now (no decision refers to it yet), with its age.
select $report_run_id as report_run_id, $reported_at::timestamptz as reported_at,
       c.seq, c.run_id, c.spoke_id, c.kind, c.created_at, c.source_study_uids,
       c.target_study_uids, c.instance_count,
       coalesce(list_transform(json_keys(c.attributes), k -> regexp_extract(k, '[^:]*$')),
                []::varchar[]) as attribute_names,
       (epoch($reported_at::timestamptz) - epoch(c.created_at)) / 3600.0 as age_hours
from cc_records c
where c.status = 'pending_review'
  and not exists (select 1 from cc_records d where d.refers_to = c.seq)
order by c.seq

-- name: report_export_ownership
-- Records that touch a study another spoke owns (DESIGN §6), one row per record and study.
with report_records as (
    select c.*,
           coalesce(list_transform(json_keys(c.attributes), k -> regexp_extract(k, '[^:]*$')),
                    []::varchar[]) as attribute_names
    from cc_records c
    where c.run_id = $run_id  -- the run's own, newer ones, and ones decided since the last report
       or c.seq > $after_seq
       or (c.decided_at is not null and c.decided_at >= $decided_since)
), roles as (
    select seq, 'source' as role, unnest(source_study_uids) as study_instance_uid
    from report_records
    union all
    select seq, 'target' as role, unnest(target_study_uids) as study_instance_uid
    from report_records
)
select $report_run_id as report_run_id, $reported_at::timestamptz as reported_at,
       r.seq, r.run_id, r.spoke_id, r.kind, r.status, r.created_at, o.study_instance_uid,
       string_agg(distinct o.role, '+' order by o.role) as role, s.owner_spoke,
       coalesce(json_extract_string(r.evidence, '$.ownership.policy'), $policy) as policy
from roles o
join report_records r using (seq)
join studies s using (study_instance_uid)
where s.owner_spoke <> r.spoke_id
group by all
order by r.seq, o.study_instance_uid

-- name: report_export_stale_copies
-- The stale copies the run found at its spoke.
select $report_run_id as report_run_id, $reported_at::timestamptz as reported_at,
       run_id::varchar as run_id, spoke_id::varchar as spoke_id,
       study_instance_uid::varchar as study_instance_uid, owner_spoke::varchar as owner_spoke,
       difference::varchar as difference, since::timestamptz as since,
       detected_at::timestamptz as detected_at
from stale_copies
where run_id = $run_id
order by study_instance_uid

-- name: report_export_nearline
-- What the run archived, per volume and day: TARs, objects, bytes.
select $report_run_id as report_run_id, $reported_at::timestamptz as reported_at,
       o.run_id, o.spoke_id, o.volume, regexp_extract(o.volume, '[^/\\]+$') as volume_name,
       timezone('UTC', r.started_at)::date as day,
       count(distinct o.tar_path) as tars, count(*) as objects, sum(o.size)::bigint as bytes
from stored_objects o
join runs r using (run_id)
where o.run_id = $run_id
group by all
order by o.volume

-- name: report_unreported_runs
-- Committed runs that have no report yet, oldest first.
select run_id from runs
where status = 'committed' and not list_contains($reported::varchar[], run_id)
order by started_at
