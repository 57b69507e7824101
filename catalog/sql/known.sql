-- name: known_instances
-- Active catalog instances among the SOP UIDs a PACS lists: fingerprint and current values.
select p.sop_instance_uid, i.fingerprint, st.patient_id,
       nullif(st.issuer_of_patient_id, '') as issuer_of_patient_id,
       pa.patient_name, pa.patient_birth_date, pa.patient_sex,
       st.accession_number, st.study_id, st.study_date, st.study_time, st.study_description,
       st.referring_physician_name, st.study_status,
       se.series_number, se.modality, se.series_description, i.instance_number
from listed_sop_uids p
join instances i on i.sop_instance_uid = p.sop_instance_uid and i.status = 'active'
join series se on se.series_instance_uid = i.series_instance_uid
join studies st on st.study_instance_uid = i.study_instance_uid
left join patients pa
  on pa.patient_id = st.patient_id and pa.issuer_of_patient_id = st.issuer_of_patient_id
qualify row_number() over (partition by p.sop_instance_uid order by i.instance_id) = 1
