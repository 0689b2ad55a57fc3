"""Local scrape targets for benchmarks and tests: one asyncio process listening on many
ephemeral ports of 127.0.0.1, each answering every request with the page its function returns.

    serve(ports_file, count, page)   page(index) -> bytes, index being the target's number

Writes the ports, one a line, to ports_file (atomically) once all listen, then serves forever.
"""
import asyncio
import os


def serve(ports_file, count, page):
    async def answer(reader, writer, index):
        try:
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                pass
            body = page(index)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                         b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
        finally:
            writer.close()

    async def main():
        ports = []
        for index in range(count):
            server = await asyncio.start_server(
                lambda r, w, index=index: answer(r, w, index), "127.0.0.1", 0)
            ports.append(server.sockets[0].getsockname()[1])
        with open(ports_file + ".tmp", "w") as f:
            f.write("\n".join(map(str, ports)) + "\n")
        os.rename(ports_file + ".tmp", ports_file)
        await asyncio.Event().wait()

    asyncio.run(main())
