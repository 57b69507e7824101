-- name: stage_applied
-- Members and attributes of records that apply now, and the manifest rows they bring in.
create or replace temp table applied_members as
select pm.*, rs.seq from plan_members pm join rec_seq rs using (rec) where rs.status = 'applied';
create or replace temp table applied_attributes as
select pa.*, rs.seq from plan_attributes pa join rec_seq rs using (rec)
where rs.status = 'applied';
create or replace temp table applied_values as
select pv.*, rs.seq from plan_values pv join rec_seq rs using (rec) where rs.status = 'applied';
create or replace temp table staged_new as
select m.* exclude (row_id) from man m
where m.row_id in (select row_id from applied_members where role in ('move', 'copy', 'new'))
   or m.study_instance_uid in (select study from applied_attributes where level <> 'series')

-- name: apply_series_moves
-- A series that moved whole under its own UID follows its instances to the new study.
update series se set study_instance_uid = w.new_study_uid, updated_run_id = $run_id
from (select distinct new_series_uid, new_study_uid from applied_members
      where role = 'move' and old_series_uid = new_series_uid
        and old_study_uid <> new_study_uid) w
where se.series_instance_uid = w.new_series_uid

-- name: apply_moves
-- Re-parent and re-identify moved instances as the manifest now names them.
update instances i set
  sop_instance_uid = m.sop_instance_uid, series_instance_uid = m.series_instance_uid,
  study_instance_uid = m.study_instance_uid, instance_number = m.instance_number,
  sop_key = uid_key(m.sop_instance_uid), study_key = uid_key(m.study_instance_uid),
  updated_run_id = $run_id
from applied_members a join man m using (row_id)
where a.role = 'move' and i.instance_id = a.instance_id

-- name: apply_copies
-- Duplicates from segmenting become new instances over the same stored bytes.
insert into instances (sop_instance_uid, sop_class_uid, series_instance_uid, study_instance_uid,
                       instance_number, fingerprint, object_id, owner_spoke, status,
                       created_run_id, updated_run_id, sop_key, study_key, fp_key)
select m.sop_instance_uid, m.sop_class_uid, m.series_instance_uid, m.study_instance_uid,
       m.instance_number, o.fingerprint, o.object_id, $spoke, 'active', $run_id, $run_id,
       uid_key(m.sop_instance_uid), uid_key(m.study_instance_uid), o.fp_key
from applied_members a
join man m using (row_id)
join instances o on o.instance_id = a.instance_id
where a.role = 'copy'
order by m.study_instance_uid, m.sop_instance_uid

-- name: apply_deletions
-- Soft delete: the instance is marked, its bytes stay in nearline.
update instances set status = 'deleted', updated_run_id = $run_id
where instance_id in (select instance_id from applied_members where role = 'delete')

-- name: insert_cc_instances
-- Each record's instances with identity before and after (copies and new objects by new SOP).
insert into cc_instances
select pm.seq,
       coalesce(case when pm.role in ('copy', 'new') then n.instance_id end, pm.instance_id),
       pm.paired_by, pm.old_sop_uid, pm.old_series_uid, pm.old_study_uid,
       pm.new_sop_uid, pm.new_series_uid, pm.new_study_uid
from (select p.*, rs.seq from plan_members p join rec_seq rs using (rec)) pm
left join instances n
  on pm.role in ('copy', 'new') and n.sop_instance_uid = pm.new_sop_uid
 and n.created_run_id = $run_id
order by pm.seq

-- name: insert_uid_map
-- Old → new UIDs at study, series and instance level for every applied move and copy.
insert into uid_map
select distinct level, old_uid, new_uid, seq, $run_id from (
  select 'study' as level, old_study_uid as old_uid, new_study_uid as new_uid, seq
  from applied_members where role in ('move', 'copy') and old_study_uid <> new_study_uid
  union all
  select 'series', old_series_uid, new_series_uid, seq
  from applied_members where role in ('move', 'copy') and old_series_uid <> new_series_uid
  union all
  select 'instance', old_sop_uid, new_sop_uid, seq
  from applied_members where role in ('move', 'copy') and old_sop_uid <> new_sop_uid
)
order by seq, level, old_uid, new_uid

-- name: insert_attribute_history
-- Every corrected value, old and new, under the record that changed it.
insert into attribute_history
select seq, level, case when level = 'series' then entity else study end, attribute, old, new,
       $run_id
from applied_attributes
order by seq, level, attribute

-- name: close_emptied
-- Studies and series left without active instances by moves: merged, moved or deleted.
update studies s set
  status = case when s.study_instance_uid in (select unnest(source_study_uids) from cc_records
                                             where run_id = $run_id and kind = 'MERGE')
                then 'merged'
                when s.study_instance_uid in (select old_study_uid from applied_members
                                             where role = 'move') then 'moved'
                else 'deleted' end,
  updated_run_id = $run_id
where s.status = 'active'
  and s.study_instance_uid in (select old_study_uid from applied_members)
  and not exists (select 1 from instances i
                  where i.study_instance_uid = s.study_instance_uid and i.status = 'active');
update series se set
  status = case when se.series_instance_uid in (select old_series_uid from applied_members
                                               where role = 'move') then 'moved'
                else 'deleted' end,
  updated_run_id = $run_id
where se.status = 'active'
  and se.series_instance_uid in (select old_series_uid from applied_members)
  and not exists (select 1 from instances i
                  where i.series_instance_uid = se.series_instance_uid and i.status = 'active')

-- name: find_pending_twin
-- A pending record with the same studies (and kind, unless $kind is null): the same finding.
select seq from cc_records
where status = 'pending_review' and ($kind is null or kind = $kind)
  and source_study_uids = $sources and target_study_uids = $targets
limit 1

-- name: insert_cc_record
-- One cc record of this run.
insert into cc_records (run_id, spoke_id, kind, status, created_at, source_study_uids,
                        target_study_uids, instance_count, attributes, evidence)
values ($run_id, $spoke, $kind, $status, $now, $sources, $targets, $instances, $attributes,
        $evidence)
returning seq

-- name: catalog_version
-- Changes when any run commits: compared between planning and committing.
select (select count(*) from runs) as runs, (select coalesce(max(seq), 0) from cc_records) as seq

-- name: insert_stale_copies
-- The non-owner studies this run left alone because they show a replaced state.
insert into stale_copies
select $run_id, $spoke, study, owner, difference, since, $now from plan_stale order by study
