"""A minimal, fast stand-in for front: ``GET /color`` answers blue, red, blue, red, ...

    python bench/verify/fakefront.py [--port 0] [--colors blue,red]

Prints ``PORT <n>`` on stdout once listening. HTTP/1.1 keep-alive over a raw asyncio protocol, so
the server costs as little as possible and the benchmark measures the client side.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys


def build_responses(colors: list[str]) -> list[bytes]:
    return [
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
        % (len(color.encode()), color.encode())
        for color in colors
    ]


class ColorProtocol(asyncio.Protocol):
    def __init__(self, answers: itertools.cycle[bytes]) -> None:
        self.answers = answers
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        # Requests are bodiless GETs: each ends at the blank line after the headers.
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            if self.transport is not None:
                self.transport.write(next(self.answers))


async def serve(port: int, colors: list[str]) -> None:
    answers = itertools.cycle(build_responses(colors))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: ColorProtocol(answers), "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--colors", default="blue,red")
    args = parser.parse_args()
    # Ctrl-C is the normal way to stop it by hand; SIGTERM (from run.py) just ends the process.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.colors.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
