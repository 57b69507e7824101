-- name: list_changes
-- The change log, newest last, optionally for one spoke and since a time.
select seq, run_id, spoke_id as spoke, kind, status, created_at, source_study_uids,
       target_study_uids, instance_count as instances, attributes, evidence, decided_by, reason,
       refers_to
from cc_records
where ($spoke is null or spoke_id = $spoke)
  and ($since is null or created_at >= $since)
order by seq
