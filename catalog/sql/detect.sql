-- name: stage_manifest
-- The run's manifest (with its row ids): empty text as no value, the patient issuer '' when none
-- and the patient's ID domain (the issuer, else the spoke's domain), and the 64-bit keys of its
-- SOP UIDs, study UIDs and fingerprints (catalog/sql/0004_lookup_keys.sql).
create or replace temp table man as
select * replace (coalesce(issuer_of_patient_id, '') as issuer_of_patient_id,
                  nullif(patient_name, '') as patient_name,
                  nullif(patient_birth_date, '') as patient_birth_date,
                  nullif(patient_sex, '') as patient_sex,
                  nullif(accession_number, '') as accession_number,
                  nullif(study_id, '') as study_id, nullif(study_date, '') as study_date,
                  nullif(study_time, '') as study_time,
                  nullif(study_description, '') as study_description,
                  nullif(referring_physician_name, '') as referring_physician_name,
                  nullif(study_status, '') as study_status, nullif(modality, '') as modality,
                  nullif(series_description, '') as series_description),
       coalesce(nullif(issuer_of_patient_id, ''), $domain) as patient_domain,
       uid_key(sop_instance_uid) as sop_key, uid_key(study_instance_uid) as study_key,
       uid_key(fingerprint) as fp_key
from staged_manifest

-- name: deletion_conflicts
-- The first deletions.parquet row that names a UID at another level than it has, or something
-- the same drop's manifest still lists (DESIGN §2: refused by row).
with d as (select * from staged_deletions), found as (
  select d.row_, d.level, d.uid,
    case
      when d.level = 'study' and d.uid in (select study_instance_uid from man)
        then 'the manifest of the same drop still lists this study'
      when d.level = 'series' and d.uid in (select series_instance_uid from man)
        then 'the manifest of the same drop still lists this series'
      when d.level = 'instance' and d.uid in (select sop_instance_uid from man)
        then 'the manifest of the same drop still lists this instance'
      when d.level <> 'study' and d.uid in (select study_instance_uid from studies)
        then 'this UID names a study, not a ' || d.level
      when d.level <> 'series' and d.uid in (select series_instance_uid from series)
        then 'this UID names a series, not a ' || d.level
      when d.level <> 'instance'
       and exists (select 1 from instances i
                   where i.sop_key = uid_key(d.uid) and i.sop_instance_uid = d.uid)
        then 'this UID names an instance, not a ' || d.level
    end as problem
  from d
)
select row_, level, uid, problem from found where problem is not null order by row_ limit 1

-- name: stage_candidates
-- Catalog instances the run may need, found on 8-byte keys in one pass over instances: any
-- holding a manifest SOP UID (whatever its status), and active ones sharing a fingerprint, in a
-- manifest study or named by deletions.parquet; then the active rest of the studies so found.
-- Keys only narrow the search: every later step compares the UIDs themselves.
create or replace temp table deletion_keys as
select uid_key(uid) as study_key, null::ubigint as sop_key from staged_deletions
where level = 'study'
union all
select null, uid_key(uid) from staged_deletions where level = 'instance';
create or replace temp table candidate_ids as
select i.instance_id, i.study_key, i.status = 'active' as active
from instances i
where i.sop_key in (select sop_key from man)
   or (i.status = 'active'
       and (i.fp_key in (select fp_key from man where fp_key is not null)
            or i.study_key in (select study_key from man)
            or i.study_key in (select study_key from deletion_keys where study_key is not null)
            or i.sop_key in (select sop_key from deletion_keys where sop_key is not null)));
insert into candidate_ids
select i.instance_id, i.study_key, true
from instances i
where i.status = 'active'
  and i.study_key in (select study_key from candidate_ids where active
                      except select study_key from man)
  and i.instance_id not in (select instance_id from candidate_ids);
insert into candidate_ids  -- series named by deletions.parquet (none: nothing is scanned)
select i.instance_id, i.study_key, true
from instances i
where i.status = 'active'
  and i.series_instance_uid in (select uid from staged_deletions where level = 'series')
  and i.instance_id not in (select instance_id from candidate_ids)

-- name: candidate_ranges
-- The candidates' instance ids as ranges (archive order keeps a study's ids together), closer
-- ranges merged, so that each fetch reads a few row groups through their zone maps.
with runs as (
  select min(instance_id) as lo, max(instance_id) as hi
  from (select instance_id, instance_id - row_number() over (order by instance_id) as island
        from candidate_ids)
  group by island
), starts as (
  select lo, hi, coalesce(lo - lag(hi) over (order by lo) > $gap, true) as starts from runs
)
select min(lo) as lo, max(hi) as hi
from (select lo, hi, sum(starts::integer) over (order by lo) as part from starts)
group by part
order by lo

-- name: create_candidates
-- The candidates' rows, as the catalog holds them, filled range by range.
create or replace temp table cat_all as
select instance_id, sop_instance_uid, sop_class_uid, series_instance_uid, study_instance_uid,
       instance_number, fingerprint, object_id, owner_spoke, status
from instances limit 0

-- name: fetch_candidates
-- One range of rows: a constant range on instance_id skips other row groups by zone map.
insert into cat_all
select instance_id, sop_instance_uid, sop_class_uid, series_instance_uid, study_instance_uid,
       instance_number, fingerprint, object_id, owner_spoke, status
from instances
where instance_id between $lo and $hi

-- name: keep_candidates
-- Only the candidates stay (a range also holds the rows between close candidates).
delete from cat_all where instance_id not in (select instance_id from candidate_ids)

-- name: stage_scope
-- Studies in scope: the manifest's, plus catalog studies holding its SOP UIDs or fingerprints.
create or replace temp table scope_studies as
select distinct study_instance_uid from man
union
select i.study_instance_uid from cat_all i
where i.status = 'active' and i.sop_instance_uid in (select sop_instance_uid from man)
union
select i.study_instance_uid from cat_all i
where i.status = 'active'
  and i.fingerprint in (select fingerprint from man where fingerprint is not null)

-- name: stage_catalog_side
-- Active catalog instances of the studies in scope, with their current series/study/patient.
create or replace temp table cat as
select i.instance_id, i.sop_instance_uid, i.sop_class_uid, i.series_instance_uid,
       i.study_instance_uid, i.instance_number, i.fingerprint, i.object_id, i.owner_spoke,
       se.series_number, st.patient_id, st.issuer_of_patient_id
from cat_all i
join scope_studies s using (study_instance_uid)
join series se using (series_instance_uid)
join studies st using (study_instance_uid)
where i.status = 'active'

-- name: pair_by_sop_uid
-- First pass: a manifest row and a catalog instance with the same SOP instance UID.
create or replace temp table pairs as
select m.row_id, c.instance_id, 'sop_uid' as paired_by
from man m join cat c using (sop_instance_uid)

-- name: stage_unpaired
-- What the first pass left, on both sides, among objects that carry a fingerprint.
create or replace temp table um as
select m.row_id, m.fingerprint, m.sop_class_uid, m.series_number, m.instance_number,
       m.study_instance_uid, m.sop_instance_uid
from man m anti join pairs p using (row_id)
where m.fingerprint is not null;
create or replace temp table uc as
select c.instance_id, c.fingerprint, c.sop_class_uid, c.series_number, c.instance_number,
       c.study_instance_uid, c.sop_instance_uid
from cat c anti join pairs p using (instance_id)
where c.fingerprint is not null

-- name: pair_by_fingerprint_alone
-- A fingerprint + SOP class held by exactly one unpaired row on each side pairs them.
insert into pairs
with m as (select *, count(*) over (partition by fingerprint, sop_class_uid) as k from um),
     c as (select *, count(*) over (partition by fingerprint, sop_class_uid) as k from uc)
select m.row_id, c.instance_id, 'fingerprint'
from m join c using (fingerprint, sop_class_uid)
where m.k = 1 and c.k = 1

-- name: pair_by_fingerprint_and_numbers
-- Among equal fingerprints, series and instance number unique on both sides decide the pair.
insert into pairs
with m as (
  select *, count(*) over (partition by fingerprint, sop_class_uid, series_number,
                                        instance_number) as same
  from um anti join pairs p using (row_id)
), c as (
  select *, count(*) over (partition by fingerprint, sop_class_uid, series_number,
                                        instance_number) as same
  from uc anti join pairs p using (instance_id)
)
select m.row_id, c.instance_id, 'fingerprint+number'
from m join c using (fingerprint, sop_class_uid, series_number, instance_number)
where m.same = 1 and c.same = 1

-- name: pair_leftover_fingerprints
-- One catalog instance left for a fingerprint pairs with its first row; the rest are copies.
insert into pairs
with m as (
  select *, row_number() over (partition by fingerprint, sop_class_uid
               order by study_instance_uid, series_number, instance_number, sop_instance_uid) as n,
         count(*) over (partition by fingerprint, sop_class_uid) as rows_left
  from um anti join pairs p using (row_id)
), c as (
  select *, count(*) over (partition by fingerprint, sop_class_uid) as left_
  from uc anti join pairs p using (instance_id)
)
select m.row_id, c.instance_id, 'fingerprint'
from m join c using (fingerprint, sop_class_uid)
where c.left_ = 1 and m.n = 1

-- name: find_ambiguous
-- A fingerprint still unpaired on one row and several instances, or several of each: ambiguous.
create or replace temp table ambiguous as
with m as (select * from um anti join pairs p using (row_id)),
     c as (select * from uc anti join pairs p using (instance_id)),
     g as (
       select fingerprint, sop_class_uid
       from (select fingerprint, sop_class_uid, count(*) as k from c group by all) cc
       join (select fingerprint, sop_class_uid from m group by all) mm
         using (fingerprint, sop_class_uid)
       where cc.k > 1
     )
select m.row_id, null::bigint as instance_id, fingerprint, sop_class_uid
from m join g using (fingerprint, sop_class_uid)
union all
select null, c.instance_id, fingerprint, sop_class_uid
from c join g using (fingerprint, sop_class_uid)

-- name: find_duplicates
-- Unpaired rows whose fingerprint belongs to a paired catalog instance copy that instance; of
-- several such instances (a copy of a copy), the one in a study that moves objects into the
-- row's study, so copying a segment's image is no edge from the study it was first copied from.
create or replace temp table dups as
with moved_into as (
  select distinct c.study_instance_uid as source, m.study_instance_uid as target
  from pairs p join man m using (row_id) join cat c using (instance_id)
  where c.study_instance_uid <> m.study_instance_uid
), candidates as (
  select m.row_id, c.instance_id,
         row_number() over (partition by m.row_id
                            order by mi.source is null, c.instance_id) as k
  from um m
  anti join pairs p using (row_id)
  anti join (select row_id from ambiguous where row_id is not null) a using (row_id)
  join cat c on c.fingerprint = m.fingerprint and c.sop_class_uid = m.sop_class_uid
  semi join pairs q on q.instance_id = c.instance_id
  left join moved_into mi
    on mi.source = c.study_instance_uid and mi.target = m.study_instance_uid
)
select row_id, instance_id as dup_of from candidates where k = 1

-- name: find_new_rows
-- Rows that pair with nothing in scope: new objects to archive.
create or replace temp table new_rows as
select m.row_id
from man m
anti join pairs p using (row_id)
anti join dups d using (row_id)
anti join (select row_id from ambiguous where row_id is not null) a using (row_id)

-- name: find_gone
-- Catalog instances of reported studies that nothing in the manifest pairs with: deleted. Not
-- in a study the spoke could not export whole tonight (an object it holds was unreadable), nor
-- at all when an unreadable object could not even be placed in a study (DESIGN §2).
create or replace temp table gone as
select c.instance_id, c.study_instance_uid, null::varchar as reason_code,
       null::varchar as reason_text
from cat c
anti join pairs p using (instance_id)
anti join (select instance_id from ambiguous where instance_id is not null) a using (instance_id)
where c.study_instance_uid in (select study_instance_uid from man)
  and c.study_instance_uid not in (select study from incomplete_studies)
  and $deletions_allowed

-- name: find_explicit_deletions
-- Active instances named by deletions.parquet (by study, series or instance UID).
insert into gone
select i.instance_id, i.study_instance_uid, any_value(d.reason_code), any_value(d.reason_text)
from cat_all i
join staged_deletions d
  on (d.level = 'study' and d.uid = i.study_instance_uid)
  or (d.level = 'series' and d.uid = i.series_instance_uid)
  or (d.level = 'instance' and d.uid = i.sop_instance_uid)
where i.status = 'active'
  and i.instance_id not in (select instance_id from gone)
  and i.instance_id not in (select instance_id from pairs)
  and i.study_instance_uid not in (select study from incomplete_studies)
  and $deletions_allowed
group by i.instance_id, i.study_instance_uid

-- name: move_edges
-- Catalog study → manifest study, for instances (and copies) that changed study.
select c.study_instance_uid as source, m.study_instance_uid as target,
       count(*) filter (where x.kind = 'pair') as moved,
       count(*) filter (where x.kind = 'dup') as copies
from (select row_id, instance_id, 'pair' as kind from pairs
      union all select row_id, dup_of, 'dup' from dups) x
join man m using (row_id)
join cat c using (instance_id)
where c.study_instance_uid <> m.study_instance_uid or x.kind = 'dup'
group by all
order by source, target

-- name: study_facts
-- Per study in scope or in the manifest: known to the catalog? reported? what stays in place?
with kept as (
  select c.study_instance_uid as study, count(*) as kept
  from pairs p join man m using (row_id) join cat c using (instance_id)
  where c.study_instance_uid = m.study_instance_uid
  group by all
), catalog_patient as (
  select study_instance_uid as study, patient_id || '^' || patient_domain as patient
  from studies
), manifest_patient as (
  select study_instance_uid as study, any_value(patient_id || '^' || patient_domain) as patient
  from man group by all
), studies_all as (
  select study_instance_uid as study from scope_studies
)
select s.study,
       (select owner_spoke from studies x where x.study_instance_uid = s.study) as owner,
       s.study in (select study_instance_uid from studies) as in_catalog,
       s.study in (select study_instance_uid from man) as reported,
       coalesce(k.kept, 0) as kept,
       cp.patient as catalog_patient, mp.patient as manifest_patient
from studies_all s
left join kept k using (study)
left join catalog_patient cp using (study)
left join manifest_patient mp using (study)
order by s.study

-- name: ambiguous_groups
-- Each ambiguous fingerprint with the studies it touches on both sides.
select a.fingerprint,
       list(distinct c.study_instance_uid order by c.study_instance_uid)
         filter (where c.study_instance_uid is not null) as sources,
       list(distinct m.study_instance_uid order by m.study_instance_uid)
         filter (where m.study_instance_uid is not null) as targets,
       count(a.row_id) as rows_, count(a.instance_id) as instances_
from ambiguous a
left join man m using (row_id)
left join cat c using (instance_id)
group by a.fingerprint
order by a.fingerprint

-- name: counts_for_guard
-- Instances the plan deletes, and instances in scope, for the mass-deletion guard.
select (select count(*) from gone) as deleting, (select count(*) from cat) as in_scope

-- name: plan_members
-- Every instance-level member of every planned record, with its identity before and after.
with moved as (
  select e.rec, 'move' as role, p.instance_id, p.row_id, p.paired_by
  from pairs p join man m using (row_id) join cat c using (instance_id)
  join edge_records e on e.source = c.study_instance_uid and e.target = m.study_instance_uid
  where c.study_instance_uid <> m.study_instance_uid
), renamed as (
  select s.rec, 'move' as role, p.instance_id, p.row_id, p.paired_by
  from pairs p join man m using (row_id) join cat c using (instance_id)
  join study_records s on s.study = c.study_instance_uid and s.role = 'inplace'
  where c.study_instance_uid = m.study_instance_uid
    and (c.sop_instance_uid <> m.sop_instance_uid
         or c.series_instance_uid <> m.series_instance_uid)
), copies as (
  select e.rec, 'copy' as role, d.dup_of as instance_id, d.row_id, 'fingerprint' as paired_by
  from dups d join man m using (row_id) join cat c on c.instance_id = d.dup_of
  join edge_records e on e.source = c.study_instance_uid and e.target = m.study_instance_uid
), deleted as (
  select s.rec, 'delete' as role, g.instance_id, null::bigint as row_id, 'deletion' as paired_by
  from gone g
  join study_records s
    on s.study = g.study_instance_uid and s.role = 'delete'
   and s.reason_code is not distinct from g.reason_code
), fresh as (
  select s.rec, 'new' as role, null::bigint as instance_id, n.row_id, 'new' as paired_by
  from new_rows n join man m using (row_id)
  join study_records s on s.study = m.study_instance_uid and s.role = 'new'
), unsure as (
  select r.rec, 'ambiguous' as role, a.instance_id, a.row_id, 'fingerprint' as paired_by
  from ambiguous a join ambiguous_records r using (fingerprint)
), everything as (
  select * from moved union all select * from renamed union all select * from copies
  union all select * from deleted union all select * from fresh union all select * from unsure
)
select x.rec::bigint as rec, x.role, x.instance_id, x.row_id, x.paired_by,
       i.sop_instance_uid as old_sop_uid, i.series_instance_uid as old_series_uid,
       i.study_instance_uid as old_study_uid, m.sop_instance_uid as new_sop_uid,
       m.series_instance_uid as new_series_uid, m.study_instance_uid as new_study_uid
from everything x
left join cat_all i using (instance_id)
left join man m using (row_id)
order by x.rec, x.role, new_study_uid, new_sop_uid, old_sop_uid

-- name: gone_by_study
-- Deleted instances per study and reason, with the spokes that own them, for DELETE records.
select g.study_instance_uid as study, g.reason_code, any_value(g.reason_text) as reason_text,
       count(*) as instances, list(distinct i.owner_spoke order by i.owner_spoke) as owners
from gone g join cat_all i using (instance_id)
group by g.study_instance_uid, g.reason_code
order by study, reason_code nulls first

-- name: new_by_study
-- New objects per study, for NEW_OBJECTS records.
select m.study_instance_uid as study, count(*) as instances,
       count(distinct m.series_instance_uid) as series
from new_rows n join man m using (row_id)
group by m.study_instance_uid
order by study

-- name: renamed_in_place
-- Studies whose instances stayed but got new SOP or series UIDs.
select c.study_instance_uid as study, count(*) as instances
from pairs p join man m using (row_id) join cat c using (instance_id)
where c.study_instance_uid = m.study_instance_uid
  and (c.sop_instance_uid <> m.sop_instance_uid or c.series_instance_uid <> m.series_instance_uid)
group by c.study_instance_uid
order by study

-- name: paired_by_counts
-- How each record's members paired, for its evidence.
select rec, paired_by, count(*) as n from plan_members group by all order by rec, paired_by

-- name: find_stale_copies
-- A non-owner's studies that still show UIDs or values the owner's changes have replaced.
create or replace temp table stale as
with owner_of as (
  select m.study_instance_uid as study, coalesce(s.owner_spoke, o.owner_spoke) as owner
  from (select distinct study_instance_uid from man) m
  left join studies s using (study_instance_uid)
  left join (select x.study_instance_uid, any_value(st.owner_spoke) as owner_spoke
             from man x join cat_all i using (sop_instance_uid)
             join studies st on st.study_instance_uid = i.study_instance_uid
             group by x.study_instance_uid) o using (study_instance_uid)
), old_study as (
  select u.old_uid as study, 'uids: study UID replaced' as difference, min(c.created_at) as since
  from uid_map u join cc_records c using (seq)
  where u.level = 'study' and u.old_uid in (select study_instance_uid from man)
    and u.old_uid not in (select study_instance_uid from studies where status = 'active')
  group by u.old_uid
), old_sop as (
  select m.study_instance_uid as study, 'uids: instances moved or re-identified' as difference,
         min(c.created_at) as since
  from man m join cc_instances h on h.old_sop_uid = m.sop_instance_uid
  join cc_records c on c.seq = h.seq and c.status = 'applied'
  where h.old_study_uid = m.study_instance_uid
    and (h.new_study_uid <> h.old_study_uid or h.new_sop_uid <> h.old_sop_uid)
    and not exists (select 1 from cat_all i where i.status = 'active'
                    and i.sop_instance_uid = m.sop_instance_uid
                    and i.study_instance_uid = m.study_instance_uid)
  group by m.study_instance_uid
), old_value as (
  select m.study_instance_uid as study, 'values: ' || string_agg(distinct h.attribute, ', ')
         as difference, min(c.created_at) as since
  from man m join attribute_history h
    on h.entity = m.study_instance_uid and h.level in ('study', 'patient')
  join cc_records c on c.seq = h.seq
  where (h.attribute = 'study_description' and m.study_description is not distinct from h.old_value)
     or (h.attribute = 'study_id' and m.study_id is not distinct from h.old_value)
     or (h.attribute = 'accession_number' and m.accession_number is not distinct from h.old_value)
     or (h.attribute = 'patient_name' and m.patient_name is not distinct from h.old_value)
     or (h.attribute = 'patient_id' and m.patient_id is not distinct from h.old_value)
  group by m.study_instance_uid
), found as (
  select * from old_study union all select * from old_sop union all select * from old_value
)
select f.study, o.owner, string_agg(f.difference, '; ' order by f.difference) as difference,
       min(f.since) as since
from found f join owner_of o using (study)
where o.owner is not null and o.owner <> $spoke
group by f.study, o.owner

-- name: drop_stale_rows
-- Stale copies are reported, never applied: their rows leave the run's manifest.
delete from man where study_instance_uid in (select study from stale)

-- name: stale_found
-- The stale copies this run found, for the report table.
select study, owner, difference, since from stale order by study

-- name: plan_values
-- Every changed value of every paired instance, under the planned record that carries it.
select coalesce(sr.rec, pr.rec) as rec, d.instance_id, d.level, d.attribute, d.old, d.new
from value_diffs d
left join series_recs sr on d.level = 'series' and d.source = d.target and sr.series = d.series
left join pair_recs pr on pr.source = d.source and pr.target = d.target
where coalesce(sr.rec, pr.rec) is not null
order by rec, d.instance_id, d.attribute
