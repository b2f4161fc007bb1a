"""The serial link's transport rules over a real socket pair: ACK/NAK, repeats, T1 and T2."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from drivers.payment.errors import TransportError
from drivers.payment.framing import ACK, NAK, encode_frame
from drivers.payment.link import SerialLink, TcpLink, Timing
from drivers.payment.ports import SocketPort

FAST = Timing(t1=0.1, t2=0.2, t3=0.5, t4=1.0)


@pytest.fixture
def pair() -> Iterator[tuple[SerialLink, socket.socket]]:
    ours, theirs = socket.socketpair()
    theirs.settimeout(2)
    link = SerialLink(SocketPort(ours), FAST)
    yield link, theirs
    link.close()
    theirs.close()


def read_frame(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        data += sock.recv(size - len(data))
    return data


def test_a_nak_makes_the_sender_repeat_and_an_ack_ends_it(pair: tuple[SerialLink, socket.socket]) -> None:
    link, peer = pair
    frame = encode_frame(b"\x80\x00\x00")

    seen: list[bytes] = []

    def peer_side() -> None:
        seen.append(read_frame(peer, len(frame)))
        peer.sendall(bytes([NAK]))
        seen.append(read_frame(peer, len(frame)))
        peer.sendall(bytes([ACK]))

    thread = threading.Thread(target=peer_side)
    thread.start()
    link.send(b"\x80\x00\x00")
    thread.join()
    assert seen == [frame, frame]


def test_silence_after_three_transmissions_is_a_transport_error(
    pair: tuple[SerialLink, socket.socket],
) -> None:
    link, peer = pair
    started = time.monotonic()
    with pytest.raises(TransportError):
        link.send(b"\x06\x70\x00")
    assert 3 * FAST.t2 <= time.monotonic() - started < 3 * FAST.t2 + 0.5
    frame = encode_frame(b"\x06\x70\x00")
    assert peer.recv(4096) == frame * 3


def test_a_bad_crc_is_answered_with_nak_and_the_repeat_is_taken(
    pair: tuple[SerialLink, socket.socket],
) -> None:
    link, peer = pair
    frame = encode_frame(b"\x04\xff\x01\x0a")
    peer.sendall(frame[:-1] + bytes([frame[-1] ^ 1]))
    peer.sendall(frame)
    assert link.receive(1.0) == b"\x04\xff\x01\x0a"
    assert peer.recv(2) == bytes([NAK, ACK])


def test_a_pause_above_t1_inside_a_frame_is_answered_with_nak(pair: tuple[SerialLink, socket.socket]) -> None:
    link, peer = pair
    frame = encode_frame(b"\x06\x0f\x00")
    peer.sendall(frame[:4])
    assert link.receive(FAST.t1 * 3) is None
    assert peer.recv(1) == bytes([NAK])
    peer.sendall(frame)
    assert link.receive(1.0) == b"\x06\x0f\x00"


def test_a_frame_arriving_while_waiting_for_ack_is_acknowledged_and_kept(
    pair: tuple[SerialLink, socket.socket],
) -> None:
    link, peer = pair
    # The peer answers our frame with ACK and, in the same burst, sends its own next message.
    peer.sendall(encode_frame(b"\x04\xff\x01\x0a") + bytes([ACK]))
    link.send(b"\x80\x00\x00")
    assert link.receive(0.1) == b"\x04\xff\x01\x0a"


def test_stray_ack_and_noise_between_frames_are_ignored(pair: tuple[SerialLink, socket.socket]) -> None:
    link, peer = pair
    peer.sendall(b"\x06\x15\x00\xff" + encode_frame(b"\x06\x1e\x01\x6c"))
    assert link.receive(1.0) == b"\x06\x1e\x01\x6c"


def test_tcp_link_moves_bare_apdus_in_any_fragments() -> None:
    ours, theirs = socket.socketpair()
    link = TcpLink(SocketPort(ours), FAST)
    big = b"\x06\xd3\xff\x00\x01" + bytes(256)
    theirs.sendall(big[:2])
    theirs.sendall(big[2:100] + big[100:] + b"\x80\x00\x00")
    assert link.receive(1.0) == big
    assert link.receive(1.0) == b"\x80\x00\x00"
    link.send(b"\x06\x70\x00")
    assert theirs.recv(16) == b"\x06\x70\x00"
    link.close()
    theirs.close()
