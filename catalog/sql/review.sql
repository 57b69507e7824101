-- name: open_reviews
-- Records waiting for a person: pending, and no decision refers to them yet.
select c.seq, c.kind, c.spoke_id as spoke, c.created_at, c.source_study_uids,
       c.target_study_uids, c.instance_count as instances, c.evidence
from cc_records c
where c.status = 'pending_review'
  and not exists (select 1 from cc_records d where d.refers_to = c.seq)
order by c.seq

-- name: record_by_seq
-- One cc record.
select seq, run_id, spoke_id as spoke, kind, status, created_at, source_study_uids,
       target_study_uids, instance_count as instances, attributes, evidence, decided_by, reason,
       refers_to
from cc_records where seq = $seq

-- name: decision_for
-- The decision already taken on a pending record, if any (a revert refers to records too).
select seq, status, decided_by, decided_at, reason from cc_records
where refers_to = $seq and run_id like 'review:%' order by seq limit 1

-- name: record_members
-- The instances of a record and how they paired, before and after.
select instance_id, paired_by, old_sop_uid, old_series_uid, old_study_uid, new_sop_uid,
       new_series_uid, new_study_uid
from cc_instances where seq = $seq
order by old_sop_uid nulls last, new_sop_uid

-- name: insert_decision
-- A decision is a new record that refers to the one it decides (the log stays append-only).
insert into cc_records (run_id, spoke_id, kind, status, created_at, decided_at,
                        source_study_uids, target_study_uids, instance_count, attributes,
                        evidence, decided_by, reason, refers_to)
select 'review:' || seq, spoke_id, kind, $status, $now, $now, source_study_uids,
       target_study_uids, instance_count, attributes, $evidence, $by, $reason, seq
from cc_records where seq = $seq
returning seq

-- name: decided_moves_from_record
-- A UID fix moves every instance of the record to the identity the spoke gave it.
create or replace temp table decided as
select instance_id, old_sop_uid, old_series_uid, old_study_uid, new_sop_uid, new_series_uid,
       new_study_uid
from cc_instances
where seq = $seq and instance_id is not null and new_sop_uid is not null

-- name: decided_moves_from_pairing
-- An ambiguous record resolved by a person's pairing file (catalog SOP → manifest SOP).
create or replace temp table decided as
select c.instance_id, c.old_sop_uid, c.old_series_uid, c.old_study_uid, m.new_sop_uid,
       m.new_series_uid, m.new_study_uid
from pairing p
join cc_instances c on c.seq = $seq and c.old_sop_uid = p.old_sop_uid
join cc_instances m on m.seq = $seq and m.new_sop_uid = p.new_sop_uid and m.instance_id is null

-- name: apply_decided_moves
-- Create target studies and series (from their sources), move the instances, map the UIDs.
insert into studies by name
select d.new_study_uid as study_instance_uid, any_value(s.patient_id) as patient_id,
       any_value(s.issuer_of_patient_id) as issuer_of_patient_id,
       any_value(s.patient_domain) as patient_domain,
       any_value(s.accession_number) as accession_number, any_value(s.study_id) as study_id,
       any_value(s.study_date) as study_date, any_value(s.study_time) as study_time,
       any_value(s.study_description) as study_description,
       any_value(s.referring_physician_name) as referring_physician_name,
       any_value(s.study_status) as study_status, any_value(s.owner_spoke) as owner_spoke,
       'active' as status, $run_id as created_run_id, $run_id as updated_run_id
from decided d join studies s on s.study_instance_uid = d.old_study_uid
where d.new_study_uid not in (select study_instance_uid from studies)
group by d.new_study_uid;
insert into series
select d.new_series_uid, any_value(d.new_study_uid), any_value(se.series_number),
       any_value(se.modality), any_value(se.series_description), any_value(se.owner_spoke),
       'active', $run_id, $run_id
from decided d join series se on se.series_instance_uid = d.old_series_uid
where d.new_series_uid not in (select series_instance_uid from series)
group by d.new_series_uid;
update series se set study_instance_uid = d.new_study_uid, updated_run_id = $run_id
from (select distinct new_series_uid, new_study_uid from decided
      where new_series_uid = old_series_uid and new_study_uid <> old_study_uid) d
where se.series_instance_uid = d.new_series_uid;
update instances i set sop_instance_uid = d.new_sop_uid,
       series_instance_uid = d.new_series_uid, study_instance_uid = d.new_study_uid,
       sop_key = uid_key(d.new_sop_uid), study_key = uid_key(d.new_study_uid),
       updated_run_id = $run_id
from decided d where i.instance_id = d.instance_id;
insert into cc_instances
select $decision, instance_id, 'review', old_sop_uid, old_series_uid, old_study_uid,
       new_sop_uid, new_series_uid, new_study_uid
from decided order by old_sop_uid;
insert into uid_map
select distinct level, old_uid, new_uid, $decision, $run_id from (
  select 'study' as level, old_study_uid as old_uid, new_study_uid as new_uid from decided
  where old_study_uid <> new_study_uid
  union all
  select 'series', old_series_uid, new_series_uid from decided
  where old_series_uid <> new_series_uid
  union all
  select 'instance', old_sop_uid, new_sop_uid from decided where old_sop_uid <> new_sop_uid
);
update studies s set status = 'moved', updated_run_id = $run_id
where s.study_instance_uid in (select old_study_uid from decided) and s.status = 'active'
  and not exists (select 1 from instances i where i.status = 'active'
                  and i.study_instance_uid = s.study_instance_uid);
update series se set status = 'moved', updated_run_id = $run_id
where se.series_instance_uid in (select old_series_uid from decided) and se.status = 'active'
  and not exists (select 1 from instances i where i.status = 'active'
                  and i.series_instance_uid = se.series_instance_uid)

-- name: study_status
-- Whether a study UID is one the catalog holds now.
select status from studies where study_instance_uid = $uid

-- name: study_successors
-- Where the UID map sends an old study UID (several targets after a split or segment).
select distinct new_uid from uid_map where level = 'study' and old_uid = $uid order by new_uid

-- name: apply_decided_deletion
-- An approved deletion: its instances still active are marked deleted (bytes stay in nearline).
create or replace temp table decided_deletion as
select c.instance_id, c.old_sop_uid, c.old_series_uid, c.old_study_uid
from cc_instances c join instances i using (instance_id)
where c.seq = $seq and i.status = 'active';
update instances set status = 'deleted', updated_run_id = $run_id
where instance_id in (select instance_id from decided_deletion);
insert into cc_instances
select $decision, instance_id, 'deletion', old_sop_uid, old_series_uid, old_study_uid,
       null, null, null
from decided_deletion order by old_sop_uid;
update studies s set status = 'deleted', updated_run_id = $run_id
where s.study_instance_uid in (select old_study_uid from decided_deletion)
  and s.status = 'active'
  and not exists (select 1 from instances i where i.status = 'active'
                  and i.study_instance_uid = s.study_instance_uid)

-- name: insert_decided_values
-- The values an approved record carried, under its decision: per instance, and as history.
insert into cc_values
select $decision, instance_id, level, attribute, old_value, new_value from cc_values
where seq = $seq;
insert into attribute_history
select distinct $decision, v.level,
       case when v.level = 'series' then i.series_instance_uid else i.study_instance_uid end,
       v.attribute, v.old_value, v.new_value, $run_id
from cc_values v join instances i using (instance_id)
where v.seq = $seq

-- name: latest_committed_run
-- The newest committed run: re-reporting it after a decision refreshes the report snapshots.
select run_id from runs where status = 'committed' order by finished_at desc, run_id desc limit 1
