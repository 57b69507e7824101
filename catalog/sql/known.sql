-- name: known_instances
-- Active catalog instances among the SOP UIDs a PACS lists: fingerprint and current values.
-- Found on the 8-byte sop_key (catalog/sql/0004_lookup_keys.sql), then confirmed on the UID.
with listed as (
  select sop_instance_uid, uid_key(sop_instance_uid) as sop_key from listed_sop_uids
), hits as (
  select * from instances
  where status = 'active' and sop_key in (select sop_key from listed)
)
select p.sop_instance_uid, i.fingerprint, st.patient_id,
       nullif(st.issuer_of_patient_id, '') as issuer_of_patient_id,
       pa.patient_name, pa.patient_birth_date, pa.patient_sex,
       st.accession_number, st.study_id, st.study_date, st.study_time, st.study_description,
       st.referring_physician_name, st.study_status,
       se.series_number, se.modality, se.series_description, i.instance_number
from listed p
join hits i on i.sop_instance_uid = p.sop_instance_uid
join series se on se.series_instance_uid = i.series_instance_uid
join studies st on st.study_instance_uid = i.study_instance_uid
left join patients pa
  on pa.patient_id = st.patient_id and pa.patient_domain = st.patient_domain
qualify row_number() over (partition by p.sop_instance_uid order by i.instance_id) = 1
