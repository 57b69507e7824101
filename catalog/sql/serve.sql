-- name: serve_find_patients
-- C-FIND at patient level: the patients of active studies whose current values match; a text key
-- is an RE2 pattern (wildcards translated), a date key a range, NULL a key not given; Study Date
-- and Study Time given together are one date-time range (study_datetime, PS3.4 C.2.2.2.5).
with pats as (
  select st.patient_id, st.patient_domain, any_value(st.issuer_of_patient_id) as issuer_of_patient_id,
         any_value(p.patient_name) as patient_name,
         any_value(p.patient_birth_date) as patient_birth_date,
         any_value(p.patient_sex) as patient_sex,
         count(distinct i.study_instance_uid) as n_studies,
         count(distinct i.series_instance_uid) as n_series, count(*) as n_instances
  from studies st
  join instances i on i.study_instance_uid = st.study_instance_uid and i.status = 'active'
  left join patients p on p.patient_id = st.patient_id and p.patient_domain = st.patient_domain
  group by st.patient_id, st.patient_domain
)
select * from pats
where ($patient_id is null or regexp_full_match(patient_id, $patient_id))
  and ($issuer_of_patient_id is null
       or regexp_full_match(issuer_of_patient_id, $issuer_of_patient_id))
  and ($patient_name is null or regexp_full_match(patient_name, $patient_name))
  and ($patient_sex is null or regexp_full_match(patient_sex, $patient_sex))
  and ($patient_birth_date_from is null or patient_birth_date >= $patient_birth_date_from)
  and ($patient_birth_date_to is null or patient_birth_date <= $patient_birth_date_to)
order by patient_id, patient_domain
limit $limit

-- name: serve_find_studies
-- C-FIND at study level: active studies whose current patient and study values match.
with wanted as (
  select st.*, p.patient_name, p.patient_birth_date, p.patient_sex
  from studies st
  left join patients p on p.patient_id = st.patient_id and p.patient_domain = st.patient_domain
  where ($study_instance_uid::varchar[] is null
         or list_contains($study_instance_uid::varchar[], st.study_instance_uid))
    and ($patient_id is null or regexp_full_match(st.patient_id, $patient_id))
    and ($issuer_of_patient_id is null
         or regexp_full_match(st.issuer_of_patient_id, $issuer_of_patient_id))
    and ($patient_name is null or regexp_full_match(p.patient_name, $patient_name))
    and ($patient_sex is null or regexp_full_match(p.patient_sex, $patient_sex))
    and ($patient_birth_date_from is null or p.patient_birth_date >= $patient_birth_date_from)
    and ($patient_birth_date_to is null or p.patient_birth_date <= $patient_birth_date_to)
    and ($accession_number is null or regexp_full_match(st.accession_number, $accession_number))
    and ($study_id is null or regexp_full_match(st.study_id, $study_id))
    and ($study_description is null
         or regexp_full_match(st.study_description, $study_description))
    and ($referring_physician_name is null
         or regexp_full_match(st.referring_physician_name, $referring_physician_name))
    and ($study_date_from is null or st.study_date >= $study_date_from)
    and ($study_date_to is null or st.study_date <= $study_date_to)
    and ($study_time_from is null or st.study_time >= $study_time_from)
    and ($study_time_to is null or st.study_time <= $study_time_to)
    and ($study_datetime_from is null
         or st.study_date || coalesce(st.study_time, '') >= $study_datetime_from)
    and ($study_datetime_to is null
         or st.study_date || coalesce(st.study_time, '') <= $study_datetime_to)
), counted as (
  select w.study_instance_uid, count(distinct i.series_instance_uid) as n_series,
         count(*) as n_instances,
         string_agg(distinct se.modality, '\' order by se.modality) as modalities
  from wanted w
  join instances i on i.study_instance_uid = w.study_instance_uid and i.status = 'active'
  left join series se on se.series_instance_uid = i.series_instance_uid
  group by w.study_instance_uid
)
select w.study_instance_uid, w.patient_id, w.issuer_of_patient_id, w.patient_name,
       w.patient_birth_date, w.patient_sex, w.accession_number, w.study_id, w.study_date,
       w.study_time, w.study_description, w.referring_physician_name, c.modalities,
       c.n_series, c.n_instances
from wanted w join counted c using (study_instance_uid)
where $modalities is null
   or exists (select 1 from unnest(string_split(c.modalities, '\')) m(modality)
              where regexp_full_match(m.modality, $modalities))
order by w.study_date nulls last, w.study_instance_uid
limit $limit

-- name: serve_find_series
-- C-FIND at series level: series holding active instances, with their current values and
-- their study's patient (a Patient Root answer carries it; a Patient ID key narrows).
select i.study_instance_uid, st.patient_id, se.series_instance_uid, se.series_number,
       se.modality, se.series_description, count(*) as n_instances
from instances i
join series se on se.series_instance_uid = i.series_instance_uid
join studies st on st.study_instance_uid = i.study_instance_uid
where i.status = 'active'
  and ($patient_id is null or regexp_full_match(st.patient_id, $patient_id))
  and ($study_instance_uid::varchar[] is null
       or list_contains($study_instance_uid::varchar[], i.study_instance_uid))
  and ($series_instance_uid::varchar[] is null
       or list_contains($series_instance_uid::varchar[], se.series_instance_uid))
  and ($modality is null or regexp_full_match(se.modality, $modality))
  and ($series_description is null
       or regexp_full_match(se.series_description, $series_description))
  and ($series_number::integer is null or se.series_number = $series_number::integer)
group by i.study_instance_uid, st.patient_id, se.series_instance_uid, se.series_number,
         se.modality, se.series_description
order by i.study_instance_uid, se.series_number nulls last, se.series_instance_uid
limit $limit

-- name: serve_stage_images
-- The active instances an image-level C-FIND may answer with, as value_ids (for their current
-- values, catalog/values.py stage_effective).
create or replace temp table value_ids as
select instance_id from instances
where status = 'active'
  and ($study_instance_uid::varchar[] is null
       or list_contains($study_instance_uid::varchar[], study_instance_uid))
  and ($series_instance_uid::varchar[] is null
       or list_contains($series_instance_uid::varchar[], series_instance_uid))
  and ($sop_instance_uid::varchar[] is null
       or list_contains($sop_instance_uid::varchar[], sop_instance_uid))
  and ($sop_class_uid::varchar[] is null
       or list_contains($sop_class_uid::varchar[], sop_class_uid))
  and ($instance_number::integer is null or instance_number = $instance_number::integer)

-- name: serve_find_images
-- C-FIND at image level: the staged instances with each object's own current values (its
-- study's and series', replaced where instance_values says it differs).
select i.study_instance_uid, i.series_instance_uid, i.sop_instance_uid, i.sop_class_uid,
       i.instance_number, e.* exclude (instance_id, patient_domain)
from effective e join instances i using (instance_id)
where ($patient_id is null or regexp_full_match(e.patient_id, $patient_id))
  and ($modality is null or regexp_full_match(e.modality, $modality))
  and ($series_description is null
       or regexp_full_match(e.series_description, $series_description))
  and ($series_number::integer is null or e.series_number::integer = $series_number::integer)
  and ($accession_number is null or regexp_full_match(e.accession_number, $accession_number))
  and ($study_date_from is null or e.study_date >= $study_date_from)
  and ($study_date_to is null or e.study_date <= $study_date_to)
  and ($study_time_from is null or e.study_time >= $study_time_from)
  and ($study_time_to is null or e.study_time <= $study_time_to)
  and ($study_datetime_from is null
       or e.study_date || coalesce(e.study_time, '') >= $study_datetime_from)
  and ($study_datetime_to is null
       or e.study_date || coalesce(e.study_time, '') <= $study_datetime_to)
order by i.study_instance_uid, i.series_instance_uid, i.instance_number nulls last,
         i.sop_instance_uid
limit $limit

-- name: serve_patient_studies
-- The active studies of the patients a Patient Root retrieve names (by Patient ID pattern).
select distinct st.study_instance_uid
from studies st
join instances i on i.study_instance_uid = st.study_instance_uid and i.status = 'active'
where regexp_full_match(st.patient_id, $patient_id)
order by st.study_instance_uid
