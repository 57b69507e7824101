-- name: find_samples
-- Keys for the C-FIND latency queries: studies spread over the catalog, with their patient, date
-- and name (a fixed hash order, so the same catalog always gives the same queries).
select st.study_instance_uid, st.patient_id, st.study_date, p.patient_name
from studies st
left join patients p on p.patient_id = st.patient_id and p.patient_domain = st.patient_domain
where st.study_date is not null and p.patient_name is not null
order by hash(st.study_instance_uid)
limit $n
