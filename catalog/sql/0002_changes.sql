-- What detecting and applying changes needs: attribute history and review decisions.

create table attribute_history (
    seq       bigint not null,   -- the cc record that changed it
    level     varchar not null,  -- patient | study | series
    entity    varchar not null,  -- study UID (patient, study level) or series UID
    attribute varchar not null,
    old_value varchar,
    new_value varchar,
    run_id    varchar not null
);

alter table cc_records add column decided_by varchar;
alter table cc_records add column reason varchar;
alter table cc_records add column refers_to bigint;  -- the record a decision or revert is about

-- Ambiguous records also list the manifest rows that nothing could pair (no instance yet).
alter table cc_instances alter column instance_id drop not null;
