"""Loaded by Python at start-up when this folder is on PYTHONPATH: any network attempt is logged
to $NETGUARD_LOG and refused, so a build that reaches out fails its test."""

import os
import socket

_LOG = os.environ.get("NETGUARD_LOG")


def _refuse(what, *args, **kwargs):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"{what} {args!r}\n")
    raise OSError(f"network access refused during the build: {what} {args!r}")


_connect = socket.socket.connect


def _guarded_connect(self, address):
    if self.family == getattr(socket, "AF_UNIX", None):
        return _connect(self, address)
    return _refuse("connect", address)


socket.socket.connect = _guarded_connect
socket.getaddrinfo = lambda *a, **k: _refuse("getaddrinfo", *a[:2])
socket.create_connection = lambda *a, **k: _refuse("create_connection", *a[:1])
