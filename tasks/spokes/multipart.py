"""The parts of a WADO-RS multipart/related body (PS3.18 §8.6.1.2), byte for byte.

dicomweb-client decodes what it retrieves into pydicom datasets; the hub archives objects
byte-identical to what the spoke sent, so it splits the body itself. The standard library's
email parser does this too, but copies binary bodies line by line (~30 MB/s); a split on the
boundary keeps the bytes as they came at memory speed.
"""

from __future__ import annotations

from email.message import Message


class MultipartInvalid(ValueError):
    """The body is not the multipart/related message its Content-Type promises."""


def boundary_of(content_type: str) -> str:
    header = Message()
    header["Content-Type"] = content_type
    if header.get_content_type() != "multipart/related":
        raise MultipartInvalid(f"expected multipart/related, got {header.get_content_type()}")
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartInvalid("multipart/related without a boundary")
    return boundary


def split_related(body: bytes, content_type: str) -> list[bytes]:
    """Return each part's payload (headers removed) in order."""
    delimiter = b"\r\n--" + boundary_of(content_type).encode("ascii")
    raw = b"\r\n" + body  # the first delimiter may open the body without a CRLF before it
    positions = []
    start = raw.find(delimiter)
    while start >= 0:
        positions.append(start)
        start = raw.find(delimiter, start + len(delimiter))
    close = positions[-1] + len(delimiter) if positions else 0
    if len(positions) < 2 or raw[close : close + 2] != b"--":
        raise MultipartInvalid("the body does not end with its closing boundary")
    parts = []
    for begin, end in zip(positions, positions[1:], strict=False):
        part = raw[begin + len(delimiter) : end]
        head_end = part.find(b"\r\n\r\n")
        if head_end < 0:
            raise MultipartInvalid("a part has no blank line after its headers")
        parts.append(part[head_end + 4 :])
    return parts
