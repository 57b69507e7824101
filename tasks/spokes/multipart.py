"""The parts of a WADO-RS multipart/related body (PS3.18 §8.6.1.2), byte for byte.

dicomweb-client decodes what it retrieves into pydicom datasets; the hub archives objects
byte-identical to what the spoke sent, so it splits the body itself. The standard library's
email parser does this too, but copies binary bodies line by line (~30 MB/s); a split on the
boundary keeps the bytes as they came at memory speed. The body is read as a stream of chunks
and each part is written out as it arrives, so a series of any size is never held whole.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from email.message import Message
from typing import BinaryIO

PREAMBLE, AFTER_DELIMITER, HEADERS, BODY, CLOSED = range(5)  # where the reader stands


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
    parts: list[io.BytesIO] = []

    def collect() -> io.BytesIO:
        parts.append(io.BytesIO())
        return parts[-1]

    stream_related([body], content_type, collect, lambda _part: None)
    return [part.getvalue() for part in parts]


def stream_related(
    chunks: Iterable[bytes],
    content_type: str,
    open_part: Callable[[], BinaryIO],
    part_done: Callable[[BinaryIO], None],
) -> int:
    """Write each part's payload to a file from `open_part()` as the chunks arrive; hand it to
    `part_done` once its closing delimiter is read. Returns the number of parts."""
    reader = _Reader(b"\r\n--" + boundary_of(content_type).encode("ascii"), open_part, part_done)
    reader.feed(b"\r\n")  # the first delimiter may open the body without a CRLF before it
    for chunk in chunks:
        reader.feed(chunk)
    if reader.state == HEADERS:
        raise MultipartInvalid("a part has no blank line after its headers")
    if reader.state != CLOSED or reader.parts == 0:
        raise MultipartInvalid("the body does not end with its closing boundary")
    return reader.parts


class _Reader:
    """The state of one multipart body read chunk by chunk; holds at most one chunk plus a
    delimiter's length of bytes."""

    def __init__(self, delimiter: bytes, open_part, part_done) -> None:
        self.delimiter, self.open_part, self.part_done = delimiter, open_part, part_done
        self.buffer, self.state, self.parts = bytearray(), PREAMBLE, 0
        self.out: BinaryIO | None = None

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        while self.state != CLOSED and self._step():
            pass

    def _step(self) -> bool:
        """Advance as far as the buffer allows; False when more bytes are needed."""
        if self.state == AFTER_DELIMITER:
            if len(self.buffer) < 2:
                return False
            self.state = CLOSED if self.buffer[:2] == b"--" else HEADERS
            return True
        if self.state == HEADERS:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return False
            del self.buffer[: end + 4]
            self.out, self.state = self.open_part(), BODY
            return True
        found = self.buffer.find(self.delimiter)
        keep = len(self.delimiter) - 1  # a delimiter may be cut between two chunks
        if found < 0:
            if self.state == BODY and len(self.buffer) > keep:
                self.out.write(self.buffer[:-keep])
            del self.buffer[:-keep]
            return False
        if self.state == BODY:
            self.out.write(self.buffer[:found])
            self.part_done(self.out)
            self.parts += 1
        del self.buffer[: found + len(self.delimiter)]
        self.state = AFTER_DELIMITER
        return True
