#!/usr/bin/env python3
"""Write the ZIP fixtures that tests/unit/test-zip.c reads, next to this script.

zip-data-descriptor.zip is what a streaming writer produces (persistence.md §6.1: the C# era's
SharpCompress did this): Python's zipfile, given an output it cannot seek in, sets general
purpose flag bit 3, leaves CRC and sizes zero in the local headers and writes a data descriptor
after each entry. It holds, in this order:
  d       deflate, b"single-entry payload " * 50
  stored  stored (method 0), b"0123456789"
  empty   deflate, zero bytes
and the archive comment b"made by make-zip-fixtures.py". Timestamps are fixed so that the file
is reproducible. test-zip.c repeats these contents; change both together.
"""
import io
import os
import zipfile


class Unseekable(io.RawIOBase):
    """A write-only stream without seek/tell, so zipfile must stream."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


def main():
    out = Unseekable()
    with zipfile.ZipFile(out, "w") as z:
        for name, data, method in (
            ("d", b"single-entry payload " * 50, zipfile.ZIP_DEFLATED),
            ("stored", b"0123456789", zipfile.ZIP_STORED),
            ("empty", b"", zipfile.ZIP_DEFLATED),
        ):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with z.open(info, "w") as f:
                f.write(data)
        z.comment = b"made by make-zip-fixtures.py"
    blob = bytes(out.buf)
    # the point of the fixture: every local header has bit 3 set
    assert blob[6] & 0x08, "zipfile did not write a data descriptor"
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zip-data-descriptor.zip")
    with open(path, "wb") as f:
        f.write(blob)


if __name__ == "__main__":
    main()
