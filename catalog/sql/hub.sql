-- name: hub_id
-- The hub this catalog indexes (no row: a fresh catalog, or one from before volume markers).
select hub_id from hub limit 1

-- name: insert_hub
-- Record the hub a fresh (or newly adopted) catalog indexes.
insert into hub values ($hub_id, $now)

-- name: known_volumes
-- Every volume this catalog has written to or adopted, by name.
select name from volumes order by name

-- name: insert_volume
-- Record a volume by name once its marker is written.
insert into volumes values ($name, $hub_id, $now) on conflict do nothing

-- name: stored_volume_values
-- The distinct volume values stored objects name: volume names, or absolute paths in old catalogs.
select distinct volume from stored_objects order by volume

-- name: rename_stored_volume
-- Point stored objects that name a volume by its old absolute path at the volume's name.
update stored_objects set volume = $name where volume = $old

-- name: run_is_recorded
-- Whether the catalog holds a run (a volume's marker names the last run that wrote to it).
select count(*) from runs where run_id = $run_id

-- name: run_count
-- How many runs the catalog holds: none means a catalog that indexes nothing yet.
select count(*) from runs
