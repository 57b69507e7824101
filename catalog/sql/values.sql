-- name: stage_entity_values
-- Each instance of value_ids with its study's, series' and patient's current values.
create or replace temp table entity_values as
select i.instance_id, st.patient_id, st.issuer_of_patient_id, st.patient_domain,
       p.patient_name, p.patient_birth_date, p.patient_sex, st.accession_number, st.study_id,
       st.study_date, st.study_time, st.study_description, st.referring_physician_name,
       st.study_status, se.series_number::varchar as series_number, se.modality,
       se.series_description
from value_ids v
join instances i using (instance_id)
join studies st on st.study_instance_uid = i.study_instance_uid
left join patients p on p.patient_id = st.patient_id and p.patient_domain = st.patient_domain
left join series se on se.series_instance_uid = i.series_instance_uid

-- name: stage_effective_values
-- Each instance of value_ids with its current values: those of stage_entity_values, replaced by
-- its own where instance_values says it differs (catalog/sql/0005_*.sql).
create or replace temp table own_values as
select * from instance_values where instance_id in (select instance_id from value_ids);
create or replace temp table effective as
select * from entity_values anti join own_values using (instance_id)
union all by name
(pivot (select l.instance_id, l.patient_id, l.issuer_of_patient_id, l.patient_domain,
               l.attribute, case when o.instance_id is null then l.value else o.value end as value
        from (select * from entity_values semi join own_values using (instance_id)) b
        unpivot include nulls (value for attribute in (
          patient_name, patient_birth_date, patient_sex, accession_number, study_id, study_date,
          study_time, study_description, referring_physician_name, study_status, series_number,
          modality, series_description)) l
        left join own_values o using (instance_id, attribute))
 on attribute in ('patient_name', 'patient_birth_date', 'patient_sex', 'accession_number',
                  'study_id', 'study_date', 'study_time', 'study_description',
                  'referring_physician_name', 'study_status', 'series_number', 'modality',
                  'series_description')
 using any_value(value)
 group by instance_id, patient_id, issuer_of_patient_id, patient_domain)

-- name: stage_paired_values
-- Paired instances of the studies compared (study_pairs), the manifest's values beside them.
create or replace temp table value_pairs as
select p.row_id, p.instance_id, c.study_instance_uid as source, m.study_instance_uid as target,
       m.series_instance_uid as series
from pairs p join man m using (row_id) join cat c using (instance_id)
join study_pairs sp on sp.source = c.study_instance_uid and sp.target = m.study_instance_uid;
create or replace temp table value_ids as select distinct instance_id from value_pairs

-- name: stage_value_diffs
-- Every tracked value that differs between a paired instance and its manifest row.
create or replace temp table value_diffs as
with new_wide as (
  select vp.*, m.patient_id, m.issuer_of_patient_id, m.patient_name, m.patient_birth_date,
         m.patient_sex, m.accession_number, m.study_id, m.study_date, m.study_time,
         m.study_description, m.referring_physician_name, m.study_status,
         m.series_number::varchar as series_number, m.modality, m.series_description
  from value_pairs vp join man m using (row_id)
), differing as (
  select n.* from new_wide n join effective e using (instance_id)
  where (n.patient_id, n.issuer_of_patient_id, n.patient_name, n.patient_birth_date,
         n.patient_sex, n.accession_number, n.study_id, n.study_date, n.study_time,
         n.study_description, n.referring_physician_name, n.study_status, n.series_number,
         n.modality, n.series_description)
        is distinct from
        (e.patient_id, e.issuer_of_patient_id, e.patient_name, e.patient_birth_date,
         e.patient_sex, e.accession_number, e.study_id, e.study_date, e.study_time,
         e.study_description, e.referring_physician_name, e.study_status, e.series_number,
         e.modality, e.series_description)
), new_long as (
  select * from differing unpivot include nulls (new for attribute in (
    patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex,
    accession_number, study_id, study_date, study_time, study_description,
    referring_physician_name, study_status, series_number, modality, series_description))
), old_long as (
  select * from (select e.* exclude (patient_domain) from effective e
                 semi join differing d using (instance_id))
  unpivot include nulls (old for attribute in (columns(* exclude (instance_id))))
)
select n.row_id, n.instance_id, n.source, n.target, n.series,
       case when n.attribute in ('patient_name', 'patient_birth_date', 'patient_sex')
            then 'patient'
            when n.attribute in ('series_number', 'modality', 'series_description')
            then 'series' else 'study' end as level,
       n.attribute, o.old, n.new
from new_long n join old_long o using (instance_id, attribute)
where o.old is distinct from n.new

-- name: study_value_changes
-- Patient and study values that changed, per compared study pair (with a re-identified study's
-- series values, which travel with it).
select distinct source, target, level, attribute, old, new
from value_diffs
where level <> 'series' or source <> target
order by source, target, level, attribute, old nulls first, new nulls first

-- name: series_value_changes
-- Series values that changed in series kept in their study.
select distinct source as study, series, attribute, old, new
from value_diffs
where level = 'series' and source = target
order by study, series, attribute, old nulls first, new nulls first

-- name: settle_entities
-- Set studies, series and patients of the settled instances to the value most of them hold
-- (settle_source: every tracked value of every settled instance; ties go to the lowest value).
create or replace temp table settle_long as
select * from (select s.*, i.study_instance_uid as study, i.series_instance_uid as series,
                      s.patient_id || chr(0) || s.patient_domain as patient
               from settle_source s join instances i using (instance_id))
unpivot include nulls (value for attribute in (
  patient_id, issuer_of_patient_id, patient_domain, patient_name, patient_birth_date,
  patient_sex, accession_number, study_id, study_date, study_time, study_description,
  referring_physician_name, study_status, series_number, modality, series_description));
create or replace temp table settle_modes as
select level, entity, attribute,
       arg_max(value, n order by value nulls last) as value
from (select case when attribute in ('patient_name', 'patient_birth_date', 'patient_sex')
                  then 'patient'
                  when attribute in ('series_number', 'modality', 'series_description')
                  then 'series' else 'study' end as level,
             case when attribute in ('patient_name', 'patient_birth_date', 'patient_sex')
                  then patient
                  when attribute in ('series_number', 'modality', 'series_description')
                  then series else study end as entity,
             attribute, value, count(*) as n
      from settle_long group by all)
group by all;
update studies st set
  patient_id = w.patient_id, issuer_of_patient_id = coalesce(w.issuer_of_patient_id, ''),
  patient_domain = w.patient_domain, accession_number = w.accession_number,
  study_id = w.study_id, study_date = w.study_date, study_time = w.study_time,
  study_description = w.study_description, referring_physician_name = w.referring_physician_name,
  study_status = w.study_status, updated_run_id = $run_id
from (pivot (select entity, attribute, value from settle_modes where level = 'study')
      on attribute in ('patient_id', 'issuer_of_patient_id', 'patient_domain',
                       'accession_number', 'study_id', 'study_date', 'study_time',
                       'study_description', 'referring_physician_name', 'study_status')
      using any_value(value) group by entity) w
where st.study_instance_uid = w.entity;
update series se set
  series_number = w.series_number::integer, modality = w.modality,
  series_description = w.series_description, updated_run_id = $run_id
from (pivot (select entity, attribute, value from settle_modes where level = 'series')
      on attribute in ('series_number', 'modality', 'series_description')
      using any_value(value) group by entity) w
where se.series_instance_uid = w.entity;
insert into patients
select split_part(w.entity, chr(0), 1), split_part(w.entity, chr(0), 2),
       coalesce(any_value(st.issuer_of_patient_id), ''), w.patient_name, w.patient_birth_date,
       w.patient_sex, $spoke, $run_id, $run_id
from (pivot (select entity, attribute, value from settle_modes where level = 'patient')
      on attribute in ('patient_name', 'patient_birth_date', 'patient_sex')
      using any_value(value) group by entity) w
join studies st
  on st.patient_id = split_part(w.entity, chr(0), 1)
 and st.patient_domain = split_part(w.entity, chr(0), 2)
where not exists (select 1 from patients p where p.patient_id = split_part(w.entity, chr(0), 1)
                  and p.patient_domain = split_part(w.entity, chr(0), 2))
group by all;
update patients p set
  patient_name = w.patient_name, patient_birth_date = w.patient_birth_date,
  patient_sex = w.patient_sex, updated_run_id = $run_id
from (pivot (select entity, attribute, value from settle_modes where level = 'patient')
      on attribute in ('patient_name', 'patient_birth_date', 'patient_sex')
      using any_value(value) group by entity) w
where p.patient_id || chr(0) || p.patient_domain = w.entity

-- name: stage_pinned_values
-- Instances of other studies of the settled patients keep the values they have now: value_ids
-- becomes them plus the settled ones, and `effective` their values before the update.
create or replace temp table value_ids as
select instance_id from settle_source
union
select i.instance_id
from instances i join studies st using (study_instance_uid)
where i.status = 'active'
  and (st.patient_id, st.patient_domain) in (select (patient_id, patient_domain)
                                             from settle_source)
  and i.instance_id not in (select instance_id from settle_source)

-- name: settle_own_values
-- Rewrite instance_values for value_ids: each instance's value where it differs from its
-- study's, series' or patient's (settled ones from settle_source, the others as they were).
create or replace temp table wanted_values as
select * from settle_source
union all by name
(select * from effective anti join settle_source using (instance_id));
delete from instance_values where instance_id in (select instance_id from value_ids);
insert into instance_values
with differing as (
  select w.* exclude (patient_id, issuer_of_patient_id, patient_domain)
  from wanted_values w join entity_values e using (instance_id)
  where (w.patient_name, w.patient_birth_date, w.patient_sex, w.accession_number, w.study_id,
         w.study_date, w.study_time, w.study_description, w.referring_physician_name,
         w.study_status, w.series_number, w.modality, w.series_description)
        is distinct from
        (e.patient_name, e.patient_birth_date, e.patient_sex, e.accession_number, e.study_id,
         e.study_date, e.study_time, e.study_description, e.referring_physician_name,
         e.study_status, e.series_number, e.modality, e.series_description)
), wanted as (
  select * from differing unpivot include nulls (value for attribute in (columns(* exclude (instance_id))))
), current as (
  select * from (select e.* exclude (patient_id, issuer_of_patient_id, patient_domain)
                 from entity_values e semi join differing using (instance_id))
  unpivot include nulls (value for attribute in (columns(* exclude (instance_id))))
)
select w.instance_id, w.attribute, w.value, $run_id
from wanted w join current c using (instance_id, attribute)
where w.value is distinct from c.value
order by w.instance_id, w.attribute

-- name: stage_settle_from_manifest
-- The run's settled instances: every active instance of a study the run moved objects into,
-- added objects to or corrected, with its manifest row's values. Instances of those studies the
-- manifest does not list (held by an ambiguous pairing) go in value_ids, to keep their values.
create or replace temp table touched_studies as
select distinct new_study_uid as study from applied_members where role in ('move', 'copy', 'new')
union
select distinct i.study_instance_uid from applied_values v join instances i using (instance_id);
create or replace temp table settle_source as
select i.instance_id, m.patient_id, m.issuer_of_patient_id, m.patient_domain, m.patient_name,
       m.patient_birth_date, m.patient_sex, m.accession_number, m.study_id, m.study_date,
       m.study_time, m.study_description, m.referring_physician_name, m.study_status,
       m.series_number::varchar as series_number, m.modality, m.series_description
from instances i
join man m on m.sop_instance_uid = i.sop_instance_uid
          and m.study_instance_uid = i.study_instance_uid
where i.status = 'active' and i.study_instance_uid in (select study from touched_studies);
create or replace temp table value_ids as
select instance_id from instances
where status = 'active' and study_instance_uid in (select study from touched_studies)
  and instance_id not in (select instance_id from settle_source)

-- name: add_unlisted_to_settle
-- Unlisted instances of settled studies enter settle_source with the values they have now.
insert into settle_source by name select * from effective

-- name: stage_settle_from_record
-- A decided record's instances (moved by apply_decided_moves) with their values as the record
-- planned them: current values, replaced by its cc_values; plus the other active instances of
-- the studies they moved into (value_ids), which keep theirs.
create or replace temp table value_ids as
select instance_id from instances
where status = 'active'
  and study_instance_uid in (select new_study_uid from decided)

-- name: overlay_record_values
-- settle_source for a decided record: `effective`, with the record's planned new values (its
-- old ones when $reverse: a revert).
create or replace temp table settle_source as
pivot (select l.instance_id, l.patient_domain, l.attribute,
              case when v.instance_id is null then l.value when $reverse then v.old_value
                   else v.new_value end as value
       from effective unpivot include nulls (value for attribute in (
         patient_id, issuer_of_patient_id, patient_name, patient_birth_date, patient_sex,
         accession_number, study_id, study_date, study_time, study_description,
         referring_physician_name, study_status, series_number, modality,
         series_description)) l
       left join (select * from cc_values where seq = $seq) v using (instance_id, attribute))
on attribute in ('patient_id', 'issuer_of_patient_id', 'patient_name', 'patient_birth_date',
                 'patient_sex', 'accession_number', 'study_id', 'study_date', 'study_time',
                 'study_description', 'referring_physician_name', 'study_status',
                 'series_number', 'modality', 'series_description')
using any_value(value) group by instance_id, patient_domain;
update settle_source set patient_domain = issuer_of_patient_id where issuer_of_patient_id <> ''

-- name: insert_cc_values
-- Each changed value of each instance under its record, applied or pending.
insert into cc_values
select rs.seq, v.instance_id, v.level, v.attribute, v.old, v.new
from plan_values v join rec_seq rs using (rec)
order by rs.seq, v.instance_id, v.attribute

-- name: retrieve_own_values
-- The study's instances whose own value of an attribute differs from their study's or series'.
select i.sop_instance_uid, v.attribute, v.value
from instance_values v join instances i using (instance_id)
where i.study_instance_uid = $study and i.status = 'active'
order by i.sop_instance_uid, v.attribute

-- name: stage_revert_studies
-- The studies that hold the instances whose values record $seq changed, for settling them back.
create or replace temp table decided as
select distinct i.study_instance_uid as new_study_uid
from cc_values v join instances i using (instance_id)
where v.seq = $seq and i.status = 'active'

-- name: insert_reverted_values
-- The values put back, instance by instance, under the compensating record.
insert into cc_values
select $revert, instance_id, level, attribute, new_value, old_value from cc_values where seq = $seq
