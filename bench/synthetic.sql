-- name: uid_macro
-- `2.25.` + a hash-spread prefix + kind + the row number: valid, unique, 38 characters.
create or replace temp macro uid(kind, n) as
  '2.25.' || (1 + hash(kind, n) % 9)::varchar
  || lpad((hash(n, kind) % 1000000000000000000)::varchar, 18, '0')
  || lpad(kind::varchar, 2, '0') || lpad(n::varchar, 12, '0')

-- name: base_rows
-- One manifest-shaped row per catalog instance, from the study plan (plan_studies).
copy (
  with s as (select *, unnest(range(size)) as k from plan_studies)
  select
    uid(3, first_idx + k) as sop_instance_uid,
    sop_class_uid,
    uid(2, study_no * 16 + least(n_series - 1, (k * n_series) // size)) as series_instance_uid,
    uid(1, study_no) as study_instance_uid,
    'P' || lpad(patient_no::varchar, 9, '0') as patient_id,
    'px1:' || sha256('bench-pixels-' || (first_idx + k)::varchar) as fingerprint,
    'HOSP-NORTH' as issuer_of_patient_id,
    'FAKE^PATIENT^' || patient_no::varchar as patient_name,
    (19300101 + (hash(patient_no, 'birth') % 80) * 10000
       + (hash(patient_no, 'month') % 12) * 100 + hash(patient_no, 'day') % 28)::varchar
      as patient_birth_date,
    ['F', 'M', 'O'][(1 + hash(patient_no, 'sex') % 3)::bigint] as patient_sex,
    'A' || lpad(study_no::varchar, 10, '0') as accession_number,
    (study_no % 100000)::varchar as study_id,
    (20200101 + (hash(study_no, 'year') % 7) * 10000
       + (hash(study_no, 'month') % 12) * 100 + hash(study_no, 'day') % 28)::varchar
      as study_date,
    lpad((hash(study_no, 'time') % 24)::varchar, 2, '0') || '1500' as study_time,
    modality || ' study ' || (hash(study_no, 'desc') % 40)::varchar as study_description,
    'FAKE^REFERRER^' || (hash(study_no, 'ref') % 300)::varchar as referring_physician_name,
    null::varchar as study_status,
    (1 + least(n_series - 1, (k * n_series) // size))::integer as series_number,
    modality,
    modality || ' series ' || (1 + least(n_series - 1, (k * n_series) // size))::varchar
      as series_description,
    (k + 1)::integer as instance_number,
    object_size::bigint as object_size,
    '1.2.840.10008.1.2.1' as transfer_syntax_uid,
    null::varchar as object_uri,
    study_no,
    patient_no,
    first_idx + k as idx
  from s  -- insertion order is kept: rows come out in idx order
) to $path (format parquet, row_group_size 122880)

-- name: load_patients
-- Patients of the synthetic catalog, owned by the spoke that archived them.
insert into patients
select patient_id, any_value(issuer_of_patient_id), any_value(issuer_of_patient_id),
       any_value(patient_name),
       any_value(patient_birth_date), any_value(patient_sex), $spoke, 'bench-seed', 'bench-seed'
from base group by patient_id order by patient_id

-- name: load_studies
-- Studies, in archive order.
insert into studies
select study_instance_uid, any_value(patient_id), any_value(issuer_of_patient_id),
       any_value(accession_number), any_value(study_id), any_value(study_date),
       any_value(study_time), any_value(study_description),
       any_value(referring_physician_name), any_value(study_status), $spoke, 'active',
       'bench-seed', 'bench-seed', any_value(issuer_of_patient_id)
from base group by study_instance_uid order by min(idx)

-- name: load_series
-- Series, in archive order.
insert into series
select series_instance_uid, any_value(study_instance_uid), any_value(series_number),
       any_value(modality), any_value(series_description), $spoke, 'active', 'bench-seed',
       'bench-seed'
from base group by series_instance_uid order by min(idx)

-- name: load_stored_objects
-- One stored object per instance, pointing at a TAR member that only the catalog knows.
insert into stored_objects
select idx + 1, 'vol01',
       '2025/01/01/' || study_instance_uid || '/' || series_instance_uid || '/bench-seed.tar',
       sop_instance_uid || '.dcm', 1024 + 512 * instance_number::bigint, object_size,
       sha256('bench-bytes-' || idx::varchar), fingerprint, sop_instance_uid,
       series_instance_uid, study_instance_uid, transfer_syntax_uid, $spoke, 'bench-seed'
from base  -- in idx order: the Parquet files are read in name order, their rows in order

-- name: load_instances
-- The catalog's current view: one active instance per stored object.
insert into instances
select idx + 1, sop_instance_uid, sop_class_uid, series_instance_uid, study_instance_uid,
       instance_number, fingerprint, idx + 1, $spoke, 'active', 'bench-seed', 'bench-seed',
       uid_key(sop_instance_uid), uid_key(study_instance_uid), uid_key(fingerprint)
from base

-- name: load_run
-- The run that "archived" the synthetic catalog, so the drop's manifest is newer.
insert into runs values ('bench-seed', $spoke, $at, $at, 'committed', $at, null, $rows, $rows,
                         null, null, 0)

-- name: advance_sequences
-- Explicit ids were inserted: move the sequences past them.
select max(nextval('instance_seq')), max(nextval('object_seq')) from range($rows)

-- name: spare_patients
-- Catalog patients with no study in the drop: targets for splits, values as catalogued.
select patient_id, any_value(issuer_of_patient_id) as issuer_of_patient_id,
       any_value(patient_name) as patient_name,
       any_value(patient_birth_date) as patient_birth_date,
       any_value(patient_sex) as patient_sex
from read_parquet($base)
where patient_no not in (select patient_no from drop_studies)
group by patient_id
order by hash(patient_id)
limit $count

-- name: changed_rows
-- The rows of the studies the night changes, to edit in Python.
select * exclude (patient_no, idx)
from read_parquet($base)
where study_no in (select study_no from changed_studies)
order by idx

-- name: drop_manifest_rows
-- The drop: unchanged rows of the reported studies, then the edited rows.
select * exclude (study_no, patient_no, idx)
from read_parquet($base)
where study_no in (select study_no from drop_studies)
  and study_no not in (select study_no from changed_studies)
union all by name
select * from edited_rows
