-- Values object by object, and patients keyed by their ID domain (DESIGN §2, §8).
--
-- The objects of one study need not agree on a study-, patient- or series-level value (a CT and
-- an MR series with different Study Dates, a merged-in object keeping its Accession Number).
-- studies, series and patients keep the value most of their objects hold; instance_values keeps,
-- sparsely, every instance whose own value differs from it, so that the catalog knows each
-- object's current value and retrieval sends what the spoke holds, object by object.
--
-- A patient is (patient_id, patient_domain): the Issuer of Patient ID when the objects carry
-- one, else the sending spoke's patient-ID domain (by default the spoke's own id), so the same
-- MRN at two hospitals is two patients. issuer_of_patient_id stays what the objects carry ('' for
-- none), as retrieval must send it back unchanged.

create table instance_values (
    instance_id bigint not null,
    attribute   varchar not null,  -- a manifest column: patient_name, study_date, modality, ...
    value       varchar,           -- this instance's current value (NULL: it has none)
    run_id      varchar not null
);

-- Each changed value of each instance, under the record that changed it (applied or pending):
-- what a pending UID fix applies when approved, and what a revert restores.
create table cc_values (
    seq         bigint not null,
    instance_id bigint not null,
    level       varchar not null,  -- patient | study | series
    attribute   varchar not null,
    old_value   varchar,
    new_value   varchar
);

alter table studies add column patient_domain varchar;
update studies set patient_domain = case when issuer_of_patient_id <> '' then issuer_of_patient_id
                                         else owner_spoke end;

create table patients_by_domain (
    patient_id           varchar not null,
    patient_domain       varchar not null,
    issuer_of_patient_id varchar not null default '',
    patient_name         varchar,
    patient_birth_date   varchar,
    patient_sex          varchar,
    owner_spoke          varchar not null,
    created_run_id       varchar not null,
    updated_run_id       varchar not null,
    primary key (patient_id, patient_domain)
);
-- One row per (patient ID, domain) that a study names; values from the old patient row.
insert into patients_by_domain
select s.patient_id, s.patient_domain, any_value(s.issuer_of_patient_id),
       any_value(p.patient_name), any_value(p.patient_birth_date), any_value(p.patient_sex),
       any_value(coalesce(p.owner_spoke, s.owner_spoke)),
       any_value(coalesce(p.created_run_id, s.created_run_id)),
       any_value(coalesce(p.updated_run_id, s.updated_run_id))
from studies s
left join patients p
  on p.patient_id = s.patient_id and p.issuer_of_patient_id = s.issuer_of_patient_id
group by s.patient_id, s.patient_domain;
drop table patients;
alter table patients_by_domain rename to patients;

-- Empty text is no value, as the manifest reads it: one spelling, so no change is invented.
update studies set accession_number = nullif(accession_number, ''),
                   study_id = nullif(study_id, ''), study_date = nullif(study_date, ''),
                   study_time = nullif(study_time, ''),
                   study_description = nullif(study_description, ''),
                   referring_physician_name = nullif(referring_physician_name, ''),
                   study_status = nullif(study_status, '');
update series set modality = nullif(modality, ''),
                  series_description = nullif(series_description, '');
update patients set patient_name = nullif(patient_name, ''),
                    patient_birth_date = nullif(patient_birth_date, ''),
                    patient_sex = nullif(patient_sex, '');
