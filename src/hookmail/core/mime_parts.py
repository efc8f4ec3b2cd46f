"""One attachment of a stored message, decoded in chunks straight from the stored bytes.

Attachment URLs name a part by its leaf index in `mime.scan` (the walk the payload itself
is built from: same bounds, same splitting), so the part served is the part the payload
described. The walk keeps bodies as offsets into the message, and the body is decoded in
chunks as it is sent: a 20 MiB attachment is held once, as the stored message, and never
decoded whole. Where the decoded size differs from the one the payload announced (and the
token carries), the part is not served.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator

from hookmail.core import mime

CHUNK = 64 * 1024
_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)


def find(raw: bytes, index: int) -> tuple[bytes, mime.Leaf] | None:
    """The message as the payload walked it, and its leaf with that index; None if none."""
    walked = mime.scan(raw)  # line endings normalised as for the payload, if need be
    leaves = walked.leaves
    return (walked.raw, leaves[index]) if 0 <= index < len(leaves) else None


def _base64(view: memoryview) -> Iterator[bytes]:
    carry = b""
    for offset in range(0, len(view), CHUNK):
        data = carry + bytes(view[offset : offset + CHUNK]).translate(None, _NOT_B64)
        usable = len(data) - len(data) % 4
        carry = data[usable:]
        if usable:
            yield binascii.a2b_base64(data[:usable])
    if len(carry) > 1:  # a last, unpadded group (one lone character decodes to nothing)
        yield binascii.a2b_base64(carry + b"=" * (-len(carry) % 4))


def _quoted_printable(view: memoryview) -> Iterator[bytes]:
    offset = 0
    while offset < len(view):
        stop = min(offset + CHUNK, len(view))
        if stop < len(view):  # end the chunk after a line break, so no escape is split
            ahead = bytes(view[stop - 1 : min(stop + 1024, len(view))])
            newline = ahead.find(b"\n")
            stop = stop + newline if newline >= 0 else min(stop + 1024, len(view))
        yield binascii.a2b_qp(bytes(view[offset:stop]))
        offset = stop


def _identity(view: memoryview) -> Iterator[bytes]:
    for offset in range(0, len(view), CHUNK):
        yield bytes(view[offset : offset + CHUNK])


def decoded(raw: bytes, leaf: mime.Leaf) -> Iterator[bytes]:
    """The part's body with its transfer encoding undone, in chunks."""
    view = memoryview(raw)[leaf.start : leaf.end]
    encoding = str(leaf.message.get("content-transfer-encoding", "")).strip().lower()
    if encoding == "base64":
        return _base64(view)
    if encoding == "quoted-printable":
        return _quoted_printable(view)
    return _identity(view)


def decoded_size(raw: bytes, leaf: mime.Leaf) -> int:
    return sum(len(chunk) for chunk in decoded(raw, leaf))
