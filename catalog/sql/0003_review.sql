-- Cross-spoke controls: stale copies that a non-owner still reports, kept for the reports.

create table stale_copies (
    run_id             varchar not null,
    spoke_id           varchar not null,  -- the spoke that still holds the old state
    study_instance_uid varchar not null,  -- as that spoke reports it
    owner_spoke        varchar not null,
    difference         varchar not null,  -- what is old: uids | values, with detail
    since              timestamptz,       -- when the owner's change replaced it
    detected_at        timestamptz not null
);
