#!/usr/bin/env python3
"""A counting TCP proxy for the benchmarks (not a test): forwards every connection from
127.0.0.1:LISTEN to 127.0.0.1:UPSTREAM byte for byte, and counts the HTTP/1.1 requests the
clients send (it parses the request stream only: request line, headers, a body by
Content-Length or chunked; responses pass through unparsed).

    counting-proxy.py UPSTREAM_PORT PORT_FILE COUNT_FILE

Binds a free port and writes it to PORT_FILE. On SIGUSR1 it writes the counts so far to
COUNT_FILE ("TOTAL" then "METHOD N" lines) and resets them; on SIGTERM it exits.
"""

import asyncio
import collections
import signal
import sys

upstream_port = int(sys.argv[1])
port_file, count_file = sys.argv[2], sys.argv[3]
counts = collections.Counter()


async def pipe_raw(reader, writer):
    try:
        while True:
            data = await reader.read(1 << 18)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def forward_exactly(reader, writer, n):
    while n > 0:
        data = await reader.read(min(n, 1 << 18))
        if not data:
            raise asyncio.IncompleteReadError(b"", n)
        writer.write(data)
        await writer.drain()
        n -= len(data)


async def pipe_requests(reader, writer):
    """Client → upstream, counting requests. A connection that does not start with an HTTP
    method (a TLS ClientHello: skopeo tries https first) is passed through uncounted, so the
    registry refuses it at once as it would without the proxy."""
    try:
        first = await reader.read(1)
        if not first:
            raise ConnectionError
        writer.write(first)
        if not first.isalpha():
            await pipe_raw(reader, writer)
            return
        pending = first
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            writer.write(head)
            head, pending = pending + head, b""
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0].decode("latin-1")
            counts[method] += 1
            length, chunked = 0, False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip())
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    writer.write(size_line)
                    size = int(size_line.split(b";", 1)[0].strip(), 16)
                    if size == 0:
                        # trailers, then the empty line
                        while True:
                            t = await reader.readuntil(b"\r\n")
                            writer.write(t)
                            if t == b"\r\n":
                                break
                        break
                    await forward_exactly(reader, writer, size + 2)
            elif length:
                await forward_exactly(reader, writer, length)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_reader, client_writer):
    try:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream_port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(
        pipe_requests(client_reader, up_writer), pipe_raw(up_reader, client_writer)
    )


def dump():
    import os

    with open(count_file + ".tmp", "w") as f:
        f.write(f"{sum(counts.values())}\n")
        for m, n in sorted(counts.items()):
            f.write(f"{m} {n}\n")
    os.replace(count_file + ".tmp", count_file)
    counts.clear()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 20)
    with open(port_file, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGUSR1, dump)
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with server:
        await stop


asyncio.run(main())
