-- name: retrieve_study_status
-- A study's catalog status and how many of its instances are no longer active.
select coalesce(any_value(s.status), 'unknown') as study_status,
       count(i.instance_id) filter (where i.status <> 'active') as inactive
from (select $uid::varchar as uid) q
left join studies s on s.study_instance_uid = q.uid
left join instances i on i.study_instance_uid = q.uid

-- name: retrieve_skipped
-- Instances of a study that retrieval leaves out, by status (deleted, rejected).
select status, count(*) as instances
from instances
where study_instance_uid = $study and status <> 'active'
group by status
order by status

-- name: retrieve_study_values
-- The study's current patient and study values; patient_known is false without a patient row.
select st.patient_id, st.issuer_of_patient_id, p.patient_name, p.patient_birth_date,
       p.patient_sex, st.accession_number, st.study_id, st.study_date, st.study_time,
       st.study_description, st.referring_physician_name, st.study_status,
       p.patient_id is not null as patient_known
from studies st
left join patients p
  on p.patient_id = st.patient_id and p.patient_domain = st.patient_domain
where st.study_instance_uid = $study

-- name: retrieve_series_values
-- The current values of every series that holds an active instance of the study.
select se.series_instance_uid, se.series_number, se.modality, se.series_description
from series se
where se.series_instance_uid in (select series_instance_uid from instances
                                 where study_instance_uid = $study and status = 'active')
order by se.series_instance_uid

-- name: retrieve_instances
-- Active instances of a study with their current UIDs and where their bytes are, in TAR order.
select i.sop_instance_uid, i.series_instance_uid, i.study_instance_uid, i.sop_class_uid,
       i.instance_number, so.volume, so.tar_path, so.member_name, so.data_offset, so.size,
       so.sha256, so.transfer_syntax_uid
from instances i
join stored_objects so using (object_id)
where i.study_instance_uid = $study and i.status = 'active'
order by so.volume, so.tar_path, so.data_offset, i.sop_instance_uid

-- name: retrieve_uid_map
-- Every old name of the objects of the study's patient, with the current UIDs it now leads to.
with recursive
patient_studies as (
  select s2.study_instance_uid as uid
  from studies s1
  join studies s2
    on s2.patient_id = s1.patient_id and s2.patient_domain = s1.patient_domain
  where s1.study_instance_uid = $study
  union
  select $study::varchar
),
stored_studies as (
  select distinct so.study_instance_uid as uid
  from instances i join stored_objects so using (object_id)
  where i.status = 'active' and i.study_instance_uid in (select uid from patient_studies)
),
roots as (
  select 'instance' as level, so.sop_instance_uid as uid
  from stored_objects so where so.study_instance_uid in (select uid from stored_studies)
  union
  select 'series', so.series_instance_uid
  from stored_objects so where so.study_instance_uid in (select uid from stored_studies)
  union
  select 'study', uid from stored_studies
),
names(level, uid, depth) as (
  select level, uid, 0 from roots
  union
  select m.level, m.new_uid, n.depth + 1
  from names n join uid_map m on m.level = n.level and m.old_uid = n.uid
  where n.depth < 32
),
renamed as (
  select distinct n.level, n.uid
  from names n
  where exists (select 1 from uid_map m where m.level = n.level and m.old_uid = n.uid)
),
reach(level, origin, uid, depth) as (
  select level, uid, uid, 0 from renamed
  union
  select r.level, r.origin, m.new_uid, r.depth + 1
  from reach r join uid_map m on m.level = r.level and m.old_uid = r.uid
  where r.depth < 32
),
now_held as (
  select r.origin, r.uid, i.study_instance_uid as study
  from reach r join instances i on i.sop_instance_uid = r.uid
  where r.level = 'instance' and i.status = 'active'
  union
  select r.origin, r.uid, i.study_instance_uid
  from reach r join instances i on i.series_instance_uid = r.uid
  where r.level = 'series' and i.status = 'active'
  union
  select r.origin, r.uid, i.study_instance_uid
  from reach r join instances i on i.study_instance_uid = r.uid
  where r.level = 'study' and i.status = 'active'
)
select distinct origin as old_uid, uid as new_uid, study
from now_held
order by old_uid, new_uid, study
