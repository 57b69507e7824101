-- name: deleted_instances_since
-- Instances that applied DELETE records removed since $since, as the spoke knew them.
select c.seq, coalesce(json_extract_string(c.evidence, '$.reason_code'), '113001') as reason_code,
       h.old_study_uid as study_instance_uid, h.old_series_uid as series_instance_uid,
       h.old_sop_uid as sop_instance_uid, i.sop_class_uid, st.patient_id, st.study_date,
       st.study_time, st.study_id, st.accession_number, st.referring_physician_name,
       p.patient_name, p.patient_birth_date, p.patient_sex
from cc_records c
join cc_instances h on h.seq = c.seq
join instances i on i.instance_id = h.instance_id
join studies st on st.study_instance_uid = h.old_study_uid
left join patients p
  on p.patient_id = st.patient_id and p.patient_domain = st.patient_domain
where c.kind = 'DELETE' and c.status = 'applied' and ($since is null or c.created_at >= $since)
  and not exists (select 1 from cc_records r where r.kind = 'REVERT' and r.refers_to = c.seq)
order by h.old_study_uid, reason_code, h.old_series_uid, h.old_sop_uid
