"""The ustar header of a series TAR's member, built directly: byte-identical to what tarfile
writes for a read-only regular file of no owner, without tarfile's TarInfo (a quarter of a
millisecond per member, most of a small object's TAR overhead)."""

from __future__ import annotations

import struct
import tarfile

# name, mode, uid, gid, size, mtime, checksum, type, (link name), magic, version, (user and
# group names, device numbers, prefix, padding): ustar's 512-byte header, NUL-padded fields
_USTAR = struct.Struct("100s8s8s8s12s12s8sc100x6s2s247x")
_OCTAL_11 = 8**11


def ustar_header(name: str, size: int, mtime: int) -> bytes:
    """A plain ustar header (no PAX, no GNU extensions); values a ustar header cannot hold go
    through tarfile, which refuses them."""
    if size >= _OCTAL_11 or not 0 <= mtime < _OCTAL_11 or len(name) > 100 or not name.isascii():
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, mtime, 0o444
        info.uname = info.gname = ""
        return info.tobuf(format=tarfile.USTAR_FORMAT, encoding="ascii", errors="strict")
    header = bytearray(
        _USTAR.pack(name.encode("ascii"), b"0000444", b"0000000", b"0000000", b"%011o" % size,
                    b"%011o" % mtime, b" " * 8, b"0", b"ustar", b"00")
    )  # fmt: skip
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)
