"""What a test's spawned DDP workers share: a free local port and the environment torchrun would give each rank."""

from __future__ import annotations

import os
import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_rank(rank: int, world_size: int, port: int) -> None:
    """Set this process's environment as torchrun sets it for ``rank`` of ``world_size`` on one machine."""
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(world_size),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
