-- 64-bit lookup keys of the UIDs and fingerprints that detection probes with a night's manifest.
-- Finding a drop's instances in a catalog of hundreds of millions then reads 8-byte columns, not
-- 40-70-byte strings. A key only narrows a search: every match is confirmed on the UIDs, so a
-- collision costs a little work, never a wrong pairing. Every writer of these UIDs sets the key.

create macro uid_key(value) as md5_number_lower(value);

alter table instances add column sop_key ubigint;
alter table instances add column study_key ubigint;
alter table instances add column fp_key ubigint;

update instances set sop_key = uid_key(sop_instance_uid), study_key = uid_key(study_instance_uid),
                     fp_key = uid_key(fingerprint);
