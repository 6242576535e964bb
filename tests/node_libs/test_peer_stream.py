"""The peer transport on real sockets (127.0.0.1): streams, fallback, limits, reconnects."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
from starlette.applications import Starlette
from starlette.routing import Route

from butterfly_config.node.ports import free_port
from butterfly_config.node.servers import NodeServer, bind_socket, make_server, serve_on
from butterfly_config.node.transport import (
    HEARTBEAT_PATH,
    STREAM_PATH,
    PeerTransport,
    RetryPolicy,
)

FAST_RETRY = RetryPolicy(max_retries=3, initial_backoff_ms=20, max_backoff_ms=100)


def free_addr() -> str:
    return f"127.0.0.1:{free_port()}"


class Receiver:
    """A node's receiving side: a transport behind a real uvicorn server."""

    def __init__(self, addr: str, *, max_body_bytes: int = 1024 * 1024,
                 streams: bool = True) -> None:
        self.messages: list[bytes] = []
        self.heartbeats: list[tuple[str, bytes]] = []
        self.transport = PeerTransport(
            node_id="n1", peer_addrs={}, on_receive=self.messages.append,
            on_heartbeat=lambda sender, body: self.heartbeats.append((sender, body)),
            max_body_bytes=max_body_bytes)
        app: Starlette = self.transport.asgi_app()
        if not streams:  # an older peer: the request endpoints only
            app = Starlette(routes=[r for r in app.routes
                                    if isinstance(r, Route) and r.path != STREAM_PATH])
        self.server: NodeServer = make_server(
            app, addr, stream_max_bytes=self.transport.max_frame_bytes if streams else None)
        self.sock = bind_socket(addr, "peer endpoint")
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Receiver:
        self.task = asyncio.create_task(serve_on(self.server, self.sock))
        while not self.server.started:
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.should_exit = True
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


@contextlib.asynccontextmanager
async def sender_to(addr: str, max_body_bytes: int = 1024 * 1024) -> AsyncIterator[PeerTransport]:
    """Node n0's sending side, started, with n1 at `addr`; stopped on the way out."""
    sender = PeerTransport(node_id="n0", peer_addrs={"n0": "127.0.0.1:1", "n1": addr},
                           on_receive=lambda _data: None, retry=FAST_RETRY,
                           max_body_bytes=max_body_bytes)
    await sender.start()
    try:
        yield sender
    finally:
        await sender.stop()


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_messages_and_heartbeats_share_one_stream_in_order() -> None:
    addr = free_addr()

    async def scenario() -> None:
        async with Receiver(addr) as receiver, sender_to(addr) as sender:
            for i in range(200):
                sender.send("n1", b"message %d" % i)
                if i % 50 == 0:
                    sender.send("n1", b"beat %d" % i, path=HEARTBEAT_PATH)
            await until(lambda: len(receiver.messages) == 200)
            await until(lambda: len(receiver.heartbeats) == 4)
            status = sender.status()
            assert status["links"] == {"n1": "stream"}
            assert status["sent"] == 204 and status["streams_opened"] == 1
        assert receiver.messages == [b"message %d" % i for i in range(200)]
        assert receiver.heartbeats == [("n0", b"beat %d" % i) for i in (0, 50, 100, 150)]
        assert sender.stats.streams_opened == 1 and sender.stats.sent == 204
        assert receiver.transport.stats.received == 204

    run(scenario)


def test_a_peer_without_streams_is_sent_requests() -> None:
    addr = free_addr()

    async def scenario() -> None:
        async with Receiver(addr, streams=False) as receiver, sender_to(addr) as sender:
            for i in range(5):
                sender.send("n1", b"m%d" % i)
            sender.send("n1", b"beat", path=HEARTBEAT_PATH)
            await until(lambda: len(receiver.messages) == 5 and receiver.heartbeats != [])
            assert sender.status()["links"] == {"n1": "requests"}
        assert receiver.messages == [b"m%d" % i for i in range(5)]
        assert sender.stats.streams_opened == 0 and sender.stats.send_failures == 0

    run(scenario)


def test_a_frame_over_the_limit_closes_the_stream_and_later_frames_get_through() -> None:
    addr = free_addr()

    async def scenario() -> None:
        async with (Receiver(addr, max_body_bytes=1000) as receiver,
                    sender_to(addr, max_body_bytes=1000) as sender):
            sender.send("n1", b"small")
            await until(lambda: receiver.messages == [b"small"])
            sender.send("n1", b"x" * 5000)
            await asyncio.sleep(0.3)  # the receiver closes the stream (1009)
            sender.send("n1", b"after")
            await until(lambda: receiver.messages[-1:] == [b"after"])
        assert receiver.messages == [b"small", b"after"]
        assert sender.stats.streams_opened == 2

    run(scenario)


def test_text_frames_unknown_kinds_and_blocked_senders_deliver_nothing() -> None:
    addr = free_addr()

    async def scenario() -> None:
        async with Receiver(addr) as receiver:
            url = f"http://{addr}{STREAM_PATH}"
            async with aiohttp.ClientSession() as http:
                async with http.ws_connect(url, headers={"X-Butterfly-Node": "n2"}) as stream:
                    await stream.send_bytes(b"zjunk")  # no such kind
                    await stream.send_bytes(b"")  # empty
                    await stream.send_str("mtext")
                    closing = await stream.receive()
                    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                    assert stream.close_code == 1003
                receiver.transport.blocked_peers = {"n2"}
                async with http.ws_connect(url, headers={"X-Butterfly-Node": "n2"}) as stream:
                    await stream.send_bytes(b"mfrom a blocked peer")
                    await stream.send_bytes(b"hbeat from a blocked peer")
                await asyncio.sleep(0.2)
            stats = receiver.transport.stats
            assert receiver.messages == [] and receiver.heartbeats == []
            assert stats.malformed_frames == 3 and stats.dropped_blocked == 2

    run(scenario)


def test_the_stream_is_opened_again_after_the_peer_restarts() -> None:
    addr = free_addr()

    async def scenario() -> None:
        async with sender_to(addr) as sender:
            async with Receiver(addr) as first:
                sender.send("n1", b"before")
                await until(lambda: first.messages == [b"before"])
            async with Receiver(addr) as second:
                await asyncio.sleep(0.1)
                for _ in range(3):  # the first frame may go to the dead stream and be lost
                    sender.send("n1", b"after")
                await until(lambda: b"after" in second.messages)
        assert sender.stats.streams_opened == 2

    run(scenario)


def test_an_unreachable_peer_costs_retries_not_a_crash() -> None:
    addr = free_addr()  # nobody listens here

    async def scenario() -> None:
        async with sender_to(addr) as sender:
            sender.send("n1", b"lost")
            await until(lambda: sender.stats.send_failures == FAST_RETRY.max_retries + 1)
            assert sender.status()["links"] == {"n1": "none"}
            sender.blocked_peers = {"n1"}
            assert sender.status()["links"] == {"n1": "blocked"}
        assert sender.stats.sent == 0 and sender.stats.streams_opened == 0

    run(scenario)


def test_an_idle_stream_outlives_the_request_timeout() -> None:
    """The session's 5 s request timeout must not cut a stream that is merely quiet."""
    idle_s = 6.0
    addr = free_addr()

    async def scenario() -> None:
        async with Receiver(addr) as receiver, sender_to(addr) as sender:
            sender.send("n1", b"first")
            await until(lambda: receiver.messages == [b"first"])
            await asyncio.sleep(idle_s)
            sender.send("n1", b"second")
            await until(lambda: receiver.messages == [b"first", b"second"])
        assert sender.stats.streams_opened == 1

    run(scenario)
