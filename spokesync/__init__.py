"""spokesync's one import namespace: `spokesync.catalog`, `spokesync.tasks`, `spokesync.flows`.

In a checkout the three packages sit at the project's top level (the design card's layout), and
this package's path is that top level, so `spokesync.tasks` is the folder `tasks/`. The wheel
maps the folders under `spokesync/` instead (pyproject.toml), so an installed spokesync adds
nothing named `tasks`, `flows` or `catalog` to site-packages.
"""

from pathlib import Path

_HERE = Path(__file__).resolve().parent
if not (_HERE / "catalog").is_dir():  # a checkout: the packages are this folder's siblings
    __path__ = [str(_HERE.parent)]
