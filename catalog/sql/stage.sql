-- name: manifest_group_screen
-- Might the staged manifest list a SOP instance twice, a series in two studies or a study under
-- two patients? Grouped on 64-bit hashes: a collision only sends tasks/manifest/rules.py to look.
select
  exists (
    select 1 from staged_manifest group by hash(sop_instance_uid) having count(*) > 1
  ) as repeated_sop,
  exists (
    select 1 from staged_manifest
    group by hash(series_instance_uid)
    having min(study_instance_uid) <> max(study_instance_uid)
  ) as series_in_two_studies,
  exists (
    select 1 from staged_manifest
    group by hash(study_instance_uid)
    having min(patient_id) <> max(patient_id)
  ) as study_under_two_patients
