-- Hub and volume identity (DESIGN §7): the catalog records which hub it indexes and the nearline
-- volumes it has written to, by name. Each volume carries a marker naming the same hub, so a
-- catalog path mistyped, a catalog restored from an older backup or a volume not mounted is
-- recognised before anything is written. stored_objects.volume holds a volume name from now on;
-- catalogs that stored absolute paths are mapped to names on their next run (catalog/hub.py).

create table hub (
    hub_id     varchar primary key,
    created_at timestamptz not null
);

create table volumes (
    name     varchar primary key,
    hub_id   varchar not null,
    added_at timestamptz not null
);
