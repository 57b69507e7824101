-- name: stage_applied
-- Members and attributes of records that apply now, and the manifest rows they bring in.
create or replace temp table applied_members as
select pm.*, rs.seq from plan_members pm join rec_seq rs using (rec) where rs.status = 'applied';
create or replace temp table applied_attributes as
select pa.*, rs.seq from plan_attributes pa join rec_seq rs using (rec)
where rs.status = 'applied';
create or replace temp table staged_new as
select m.* exclude (row_id) from man m
where m.row_id in (select row_id from applied_members where role in ('move', 'copy', 'new'))
   or m.study_instance_uid in (select study from applied_attributes where level <> 'series')

-- name: apply_patient_attributes
-- Corrected patient values (the patient as the manifest names it).
update patients p set
  patient_name = case when w.has_name then w.patient_name else p.patient_name end,
  patient_birth_date = case when w.has_birth then w.patient_birth_date
                            else p.patient_birth_date end,
  patient_sex = case when w.has_sex then w.patient_sex else p.patient_sex end,
  updated_run_id = $run_id
from (
  select m.patient_id, m.issuer_of_patient_id,
         bool_or(a.attribute = 'patient_name') as has_name,
         any_value(a.new) filter (where a.attribute = 'patient_name') as patient_name,
         bool_or(a.attribute = 'patient_birth_date') as has_birth,
         any_value(a.new) filter (where a.attribute = 'patient_birth_date') as patient_birth_date,
         bool_or(a.attribute = 'patient_sex') as has_sex,
         any_value(a.new) filter (where a.attribute = 'patient_sex') as patient_sex
  from applied_attributes a
  join (select distinct study_instance_uid, patient_id, issuer_of_patient_id from man) m
    on m.study_instance_uid = a.study
  where a.level = 'patient'
  group by m.patient_id, m.issuer_of_patient_id
) w
where p.patient_id = w.patient_id and p.issuer_of_patient_id = w.issuer_of_patient_id

-- name: apply_study_attributes
-- Corrected study values of studies kept under their UID.
update studies s set
  patient_id = case when w.has_pid then w.patient_id else s.patient_id end,
  issuer_of_patient_id = case when w.has_issuer then coalesce(w.issuer_of_patient_id, '')
                              else s.issuer_of_patient_id end,
  accession_number = case when w.has_acc then w.accession_number else s.accession_number end,
  study_id = case when w.has_sid then w.study_id else s.study_id end,
  study_date = case when w.has_date then w.study_date else s.study_date end,
  study_time = case when w.has_time then w.study_time else s.study_time end,
  study_description = case when w.has_desc then w.study_description
                           else s.study_description end,
  referring_physician_name = case when w.has_ref then w.referring_physician_name
                                  else s.referring_physician_name end,
  study_status = case when w.has_status then w.study_status else s.study_status end,
  updated_run_id = $run_id
from (
  select study,
    bool_or(attribute = 'patient_id') as has_pid,
    any_value(new) filter (where attribute = 'patient_id') as patient_id,
    bool_or(attribute = 'issuer_of_patient_id') as has_issuer,
    any_value(new) filter (where attribute = 'issuer_of_patient_id') as issuer_of_patient_id,
    bool_or(attribute = 'accession_number') as has_acc,
    any_value(new) filter (where attribute = 'accession_number') as accession_number,
    bool_or(attribute = 'study_id') as has_sid,
    any_value(new) filter (where attribute = 'study_id') as study_id,
    bool_or(attribute = 'study_date') as has_date,
    any_value(new) filter (where attribute = 'study_date') as study_date,
    bool_or(attribute = 'study_time') as has_time,
    any_value(new) filter (where attribute = 'study_time') as study_time,
    bool_or(attribute = 'study_description') as has_desc,
    any_value(new) filter (where attribute = 'study_description') as study_description,
    bool_or(attribute = 'referring_physician_name') as has_ref,
    any_value(new) filter (where attribute = 'referring_physician_name')
      as referring_physician_name,
    bool_or(attribute = 'study_status') as has_status,
    any_value(new) filter (where attribute = 'study_status') as study_status
  from applied_attributes where level = 'study' group by study
) w
where s.study_instance_uid = w.study

-- name: apply_series_attributes
-- Corrected series values of series kept under their UID.
update series se set
  series_number = case when w.has_number then w.series_number::integer else se.series_number end,
  modality = case when w.has_modality then w.modality else se.modality end,
  series_description = case when w.has_desc then w.series_description
                            else se.series_description end,
  updated_run_id = $run_id
from (
  select entity,
    bool_or(attribute = 'series_number') as has_number,
    any_value(new) filter (where attribute = 'series_number') as series_number,
    bool_or(attribute = 'modality') as has_modality,
    any_value(new) filter (where attribute = 'modality') as modality,
    bool_or(attribute = 'series_description') as has_desc,
    any_value(new) filter (where attribute = 'series_description') as series_description
  from applied_attributes where level = 'series' group by entity
) w
where se.series_instance_uid = w.entity

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
