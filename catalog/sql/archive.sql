-- name: insert_new_patients
-- Patients first seen in this run, owned by the spoke that sent them (values: settle_entities).
insert into patients (patient_id, patient_domain, issuer_of_patient_id, patient_name,
                      patient_birth_date, patient_sex, owner_spoke, created_run_id,
                      updated_run_id)
select m.patient_id, m.patient_domain, any_value(m.issuer_of_patient_id),
       any_value(m.patient_name), any_value(m.patient_birth_date), any_value(m.patient_sex),
       $spoke, $run_id, $run_id
from staged_new m
anti join patients p on p.patient_id = m.patient_id and p.patient_domain = m.patient_domain
group by m.patient_id, m.patient_domain

-- name: insert_new_studies
-- Studies first seen in this run; the sending spoke becomes their owner.
insert into studies (study_instance_uid, patient_id, issuer_of_patient_id, accession_number,
                     study_id, study_date, study_time, study_description,
                     referring_physician_name, study_status, owner_spoke, status,
                     created_run_id, updated_run_id, patient_domain)
select m.study_instance_uid, any_value(m.patient_id), any_value(m.issuer_of_patient_id),
       any_value(m.accession_number), any_value(m.study_id), any_value(m.study_date),
       any_value(m.study_time), any_value(m.study_description),
       any_value(m.referring_physician_name), any_value(m.study_status),
       $spoke, 'active', $run_id, $run_id, any_value(m.patient_domain)
from staged_new m
anti join studies s on s.study_instance_uid = m.study_instance_uid
group by m.study_instance_uid

-- name: insert_new_series
-- Series first seen in this run.
insert into series
select m.series_instance_uid, any_value(m.study_instance_uid), any_value(m.series_number),
       any_value(m.modality), any_value(m.series_description), $spoke, 'active', $run_id, $run_id
from staged_new m
anti join series s on s.series_instance_uid = m.series_instance_uid
group by m.series_instance_uid

-- name: insert_stored_objects
-- One row per object member written to nearline by this run.
insert into stored_objects (volume, tar_path, member_name, data_offset, size, sha256, fingerprint,
                            sop_instance_uid, series_instance_uid, study_instance_uid,
                            transfer_syntax_uid, spoke_id, run_id)
select o.volume, o.tar_path, o.member_name, o.data_offset, o.size, o.sha256, o.fingerprint,
       m.sop_instance_uid, m.series_instance_uid, m.study_instance_uid, m.transfer_syntax_uid,
       $spoke, $run_id
from staged_objects o
join staged_new m using (sop_instance_uid)
order by m.study_instance_uid, m.series_instance_uid, m.instance_number, m.sop_instance_uid

-- name: insert_new_instances
-- The catalog's view of each object archived by this run.
insert into instances (sop_instance_uid, sop_class_uid, series_instance_uid, study_instance_uid,
                       instance_number, fingerprint, object_id, owner_spoke, status,
                       created_run_id, updated_run_id, sop_key, study_key, fp_key)
select so.sop_instance_uid, m.sop_class_uid, so.series_instance_uid, so.study_instance_uid,
       m.instance_number, so.fingerprint, so.object_id, $spoke, 'active', $run_id, $run_id,
       uid_key(so.sop_instance_uid), uid_key(so.study_instance_uid), uid_key(so.fingerprint)
from stored_objects so
join staged_new m using (sop_instance_uid)
where so.run_id = $run_id
order by so.object_id

-- name: insert_run
-- The run's own record, committed with its changes.
insert into runs values ($run_id, $spoke, $started_at, $now, $status, $generated_at, $drop_path,
                         $manifest_rows, $instances_archived, $bytes_archived, $tars_written,
                         $cc_records)

-- name: last_run_of_spoke
-- The newest committed run of a spoke, for stale-manifest checks and summaries.
select run_id, manifest_generated_at
from runs
where spoke_id = $spoke and status = 'committed'
order by finished_at desc
limit 1

-- name: stored_members
-- Every stored member the catalog expects in nearline, for verify: with the spoke that sent it
-- and when its run committed (verify --spoke / --since choose by them).
select so.volume, so.tar_path, so.member_name, so.data_offset, so.size, so.sha256,
       so.spoke_id, coalesce(r.finished_at, r.started_at) as archived_at
from stored_objects so
left join runs r on r.run_id = so.run_id
order by so.volume, so.tar_path, so.data_offset

-- name: spoke_summary
-- Per spoke: studies, series, instances, TARs and bytes the catalog holds in nearline.
select so.spoke_id as spoke,
       count(distinct so.study_instance_uid) as studies,
       count(distinct so.series_instance_uid) as series,
       count(*) as instances,
       count(distinct so.volume || '/' || so.tar_path) as tars,
       coalesce(sum(so.size), 0) as bytes
from stored_objects so
group by so.spoke_id
order by so.spoke_id

-- name: tar_instances
-- Per stored member of one TAR, the catalog instances over it (current UIDs), or its stored UIDs.
select so.member_name,
       coalesce(i.study_instance_uid, so.study_instance_uid) as study_instance_uid,
       coalesce(i.series_instance_uid, so.series_instance_uid) as series_instance_uid,
       coalesce(i.sop_instance_uid, so.sop_instance_uid) as sop_instance_uid
from stored_objects so
left join instances i using (object_id)
where so.volume = $volume and so.tar_path = $tar_path
order by so.data_offset, sop_instance_uid

-- name: recorded_run_ids
-- Every run the catalog holds a row for: a run without one never committed.
select run_id
from runs

-- name: stage_rebuilt_rows
-- A run's objects as a TAR index lists them, read as detection reads a manifest: empty text as
-- no value, the issuer '' when none, the patient's ID domain (the issuer, else the spoke's).
create or replace temp table staged_new as
select * replace (coalesce(issuer_of_patient_id, '') as issuer_of_patient_id),
       coalesce(nullif(issuer_of_patient_id, ''), $domain) as patient_domain
from rebuilt_rows

-- name: settle_source_of_run
-- Every object the run catalogued with its own values, for settling values object by object.
create or replace temp table settle_source as
select i.instance_id, m.patient_id, m.issuer_of_patient_id, m.patient_domain,
       nullif(m.patient_name, '') as patient_name,
       nullif(m.patient_birth_date, '') as patient_birth_date,
       nullif(m.patient_sex, '') as patient_sex, nullif(m.accession_number, '') as accession_number,
       nullif(m.study_id, '') as study_id, nullif(m.study_date, '') as study_date,
       nullif(m.study_time, '') as study_time,
       nullif(m.study_description, '') as study_description,
       nullif(m.referring_physician_name, '') as referring_physician_name,
       nullif(m.study_status, '') as study_status, m.series_number::varchar as series_number,
       nullif(m.modality, '') as modality, nullif(m.series_description, '') as series_description
from staged_new m
join instances i on i.sop_instance_uid = m.sop_instance_uid
                and i.study_instance_uid = m.study_instance_uid and i.created_run_id = $run_id
