"""The one read buffer of a process's HTTP/1.1 connections (asyncio.BufferedProtocol), server and client alike.

The loop is single-threaded and every protocol parses the bytes in buffer_updated before the next read, so one
buffer serves every connection and none ever sees another's bytes. Without it, uvloop's TLS transport asks OpenSSL
for up to 256 KiB per read as a fresh bytes object: an mmap, mremap and munmap per TLS record.
"""

from __future__ import annotations

READ_BUFFER = memoryview(bytearray(64 * 1024))  # four full TLS records
