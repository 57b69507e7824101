-- The catalog's first schema: identity, storage, runs, the change log and the UID map.

create sequence cc_seq start 1;
create sequence instance_seq start 1;
create sequence object_seq start 1;

create table runs (
    run_id                varchar primary key,
    spoke_id              varchar not null,
    started_at            timestamptz not null,
    finished_at           timestamptz,
    status                varchar not null,        -- committed | dry_run
    manifest_generated_at timestamptz,
    drop_path             varchar,
    manifest_rows         bigint,
    instances_archived    bigint,
    bytes_archived        bigint,
    tars_written          integer,
    cc_records            integer
);

create table patients (
    patient_id           varchar not null,
    issuer_of_patient_id varchar not null default '', -- '' when the spoke sends none
    patient_name         varchar,
    patient_birth_date   varchar,
    patient_sex          varchar,
    owner_spoke          varchar not null,
    created_run_id       varchar not null,
    updated_run_id       varchar not null,
    primary key (patient_id, issuer_of_patient_id)
);

create table studies (
    study_instance_uid       varchar primary key,
    patient_id               varchar not null,
    issuer_of_patient_id     varchar not null default '',
    accession_number         varchar,
    study_id                 varchar,
    study_date               varchar,
    study_time               varchar,
    study_description        varchar,
    referring_physician_name varchar,
    study_status             varchar,
    owner_spoke              varchar not null,
    status                   varchar not null default 'active', -- active | merged | deleted
    created_run_id           varchar not null,
    updated_run_id           varchar not null
);

create table series (
    series_instance_uid varchar primary key,
    study_instance_uid  varchar not null,
    series_number       integer,
    modality            varchar,
    series_description  varchar,
    owner_spoke         varchar not null,
    status              varchar not null default 'active',
    created_run_id      varchar not null,
    updated_run_id      varchar not null
);

-- Stored bytes, write-once: one row per object member of a nearline TAR.
create table stored_objects (
    object_id           bigint not null default nextval('object_seq'),
    volume              varchar not null,
    tar_path            varchar not null,   -- relative to the volume
    member_name         varchar not null,
    data_offset         bigint not null,
    size                bigint not null,
    sha256              varchar not null,
    fingerprint         varchar not null,   -- computed from the stored bytes
    sop_instance_uid    varchar not null,   -- identity as stored
    series_instance_uid varchar not null,
    study_instance_uid  varchar not null,
    transfer_syntax_uid varchar,
    spoke_id            varchar not null,
    run_id              varchar not null
);

-- The catalog's current view of each instance; several may share one stored object.
-- Big tables carry no index: DuckDB's zone maps serve set-based joins, and uniqueness of
-- active SOP UIDs is checked by the run that writes them.
create table instances (
    instance_id          bigint not null default nextval('instance_seq'),
    sop_instance_uid     varchar not null,
    sop_class_uid        varchar not null,
    series_instance_uid  varchar not null,
    study_instance_uid   varchar not null,
    instance_number      integer,
    fingerprint          varchar,
    object_id            bigint not null,
    owner_spoke          varchar not null,
    status               varchar not null default 'active', -- active | deleted | rejected
    created_run_id       varchar not null,
    updated_run_id       varchar not null
);

-- Append-only change log: one row per change context (cc) record.
create table cc_records (
    seq               bigint primary key default nextval('cc_seq'),
    run_id            varchar not null,
    spoke_id          varchar not null,
    kind              varchar not null,
    status            varchar not null,  -- applied | pending_review | rejected
    created_at        timestamptz not null,
    decided_at        timestamptz,
    source_study_uids varchar[] not null,
    target_study_uids varchar[] not null,
    instance_count    bigint not null,
    attributes        json,              -- {"level:uid:name": [old, new]}
    evidence          json               -- how the instances paired
);

-- The instances each cc record touched, with their identity before and after.
create table cc_instances (
    seq                 bigint not null,
    instance_id         bigint not null,
    paired_by           varchar not null, -- sop_uid | fingerprint | new | deletion
    old_sop_uid         varchar,
    old_series_uid      varchar,
    old_study_uid       varchar,
    new_sop_uid         varchar,
    new_series_uid      varchar,
    new_study_uid       varchar
);

create table uid_map (
    level   varchar not null,  -- study | series | instance
    old_uid varchar not null,
    new_uid varchar not null,
    seq     bigint not null,
    run_id  varchar not null
);
