-- name: later_dependents
-- Later applied records that touched the same instances or corrected the same values.
select distinct c.seq, c.kind
from cc_records c
where c.seq > $seq and c.status = 'applied'
  and (c.seq in (select l.seq from cc_instances l
                 join cc_instances e on e.seq = $seq and e.instance_id = l.instance_id)
       or c.seq in (select l.seq from attribute_history l
                    join attribute_history e on e.seq = $seq and e.entity = l.entity
                     and e.attribute = l.attribute))
order by c.seq
limit 5

-- name: stage_revert
-- What record $seq did, split into the ways to undo it.
create or replace temp table undo as
select h.instance_id, h.paired_by, h.old_sop_uid, h.old_series_uid, h.old_study_uid,
       h.new_sop_uid, h.new_series_uid, h.new_study_uid,
       case when r.kind = 'DELETE' then 'restore'
            when h.paired_by = 'new' then 'withdraw'
            when i.created_run_id = r.run_id and r.run_id not like 'review:%' then 'withdraw'
            else 'move_back' end as action
from cc_instances h
join cc_records r on r.seq = h.seq
join instances i on i.instance_id = h.instance_id
where h.seq = $seq

-- name: apply_revert
-- Undo it: identities back, copies and new objects withdrawn, deletions restored, values back.
update instances i set sop_instance_uid = u.old_sop_uid, series_instance_uid = u.old_series_uid,
       study_instance_uid = u.old_study_uid, sop_key = uid_key(u.old_sop_uid),
       study_key = uid_key(u.old_study_uid), updated_run_id = $run_id
from undo u where u.action = 'move_back' and i.instance_id = u.instance_id;
update instances set status = 'deleted', updated_run_id = $run_id
where instance_id in (select instance_id from undo where action = 'withdraw');
update instances set status = 'active', updated_run_id = $run_id
where instance_id in (select instance_id from undo where action = 'restore');
update series se set study_instance_uid = u.old_study_uid, updated_run_id = $run_id
from (select distinct old_series_uid, old_study_uid from undo
      where action = 'move_back' and old_series_uid = new_series_uid
        and old_study_uid <> new_study_uid) u
where se.series_instance_uid = u.old_series_uid;
update studies s set status = case when exists (
         select 1 from instances i where i.status = 'active'
         and i.study_instance_uid = s.study_instance_uid) then 'active'
         else 'moved' end, updated_run_id = $run_id
where s.study_instance_uid in (select old_study_uid from undo union
                               select new_study_uid from undo);
update series se set status = case when exists (
         select 1 from instances i where i.status = 'active'
         and i.series_instance_uid = se.series_instance_uid) then 'active'
         else 'moved' end, updated_run_id = $run_id
where se.series_instance_uid in (select old_series_uid from undo union
                                 select new_series_uid from undo);
insert into cc_instances
select $revert, instance_id, 'revert', new_sop_uid, new_series_uid, new_study_uid,
       old_sop_uid, old_series_uid, old_study_uid
from undo order by old_sop_uid;
insert into uid_map
select distinct level, old_uid, new_uid, $revert, $run_id from (
  select 'study' as level, new_study_uid as old_uid, old_study_uid as new_uid from undo
  where action = 'move_back' and old_study_uid <> new_study_uid
  union all
  select 'series', new_series_uid, old_series_uid from undo
  where action = 'move_back' and old_series_uid <> new_series_uid
  union all
  select 'instance', new_sop_uid, old_sop_uid from undo
  where action = 'move_back' and old_sop_uid <> new_sop_uid
)

-- name: reverted_attributes
-- The values record $seq corrected, to put back.
select level, entity, attribute, old_value, new_value from attribute_history where seq = $seq

-- name: insert_revert
-- The compensating record: refers to the record it undoes.
insert into cc_records (run_id, spoke_id, kind, status, created_at, decided_at,
                        source_study_uids, target_study_uids, instance_count, attributes,
                        evidence, decided_by, reason, refers_to)
select 'revert:' || seq, spoke_id, 'REVERT', 'applied', $now, $now, target_study_uids,
       source_study_uids, instance_count, $attributes, $evidence, $by, $reason, seq
from cc_records where seq = $seq
returning seq

-- name: already_reverted
-- A revert that already undid record $seq.
select seq from cc_records where kind = 'REVERT' and refers_to = $seq limit 1

-- name: stage_revert_attributes
-- The corrected values of record $seq, turned around, in the shape the apply blocks read.
create or replace temp table applied_attributes as
select null::bigint as rec, level, entity, entity as study, attribute, new_value as old,
       old_value as new, $revert as seq
from attribute_history where seq = $seq

-- name: insert_reverted_history
-- The values put back, as history of the compensating record.
insert into attribute_history
select seq, level, entity, attribute, old, new, $run_id from applied_attributes
