"""The runner subprocess: ``python -m runner.child``; one Engine, one run at a time.

Reads request frames on stdin and writes reply frames on the original stdout; fd 1 is
pointed at stderr so nothing printed by a library can corrupt the protocol.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import traceback
from typing import BinaryIO

from runner import protocol
from runner.contract import Language, RunRequest, RunResult, RunStatus
from runner.host_channel import HostChannel


class Dispatcher:
    """Routes a request to the runner for its language; the JavaScript one is made lazily."""

    def __init__(self, *, cache_capacity: int, cache_dir: str | None, send, host: HostChannel | None = None):
        from runner.assemblyscript import AssemblyScriptRunner
        from runner.engine import make_engine

        self._send = send
        self._host = host
        self._cache_dir = cache_dir
        self.engine = make_engine()
        self._assemblyscript = AssemblyScriptRunner(
            self.engine,
            cache_capacity=cache_capacity,
            cache_dir=cache_dir,
            on_compile=self._compile_notice,
        )
        self._javascript = None
        self._javascript_error: str | None = None

    def run(self, request: RunRequest) -> RunResult:
        """Run one request; an unexpected error is that run's failure, not the process's."""
        try:
            if request.language is Language.JAVASCRIPT:
                return self._run_javascript(request)
            return self._assemblyscript.run(request, host=self._host)
        except Exception as exc:  # noqa: BLE001 - the subprocess must survive any run
            traceback.print_exc(file=sys.stderr)
            return RunResult(
                status=RunStatus.FAILED,
                error_message=f"internal runner error: {type(exc).__name__}: {exc}",
            )

    def _run_javascript(self, request: RunRequest) -> RunResult:
        if self._javascript is None and self._javascript_error is None:
            # Building the JavaScript runtime compiles QuickJS: announce it like a compile
            # so the parent does not count it against the run's time limit.
            self._compile_notice(True)
            try:
                from runner.javascript import JavaScriptRunner

                if self._cache_dir is None:
                    self._javascript = JavaScriptRunner(self.engine)
                else:
                    self._javascript = JavaScriptRunner(self.engine, cache_dir=self._cache_dir)
            except Exception as exc:  # noqa: BLE001 - an absent runtime fails only JS runs
                traceback.print_exc(file=sys.stderr)
                self._javascript_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._compile_notice(False)
        if self._javascript is None:
            return RunResult(
                status=RunStatus.FAILED,
                error_message=(
                    f"javascript runtime unavailable ({self._javascript_error}); "
                    "ask the operator to check the runner installation"
                ),
            )
        return self._javascript.run(request, host=self._host)

    def _compile_notice(self, started: bool) -> None:
        self._send(protocol.encode_reply(protocol.COMPILING if started else protocol.COMPILED))


def serve(reader: BinaryIO, out_fd: int, *, cache_capacity: int, cache_dir: str | None) -> None:
    """Answer requests until stdin closes."""

    def send(frame: bytes) -> None:
        view = memoryview(frame)
        while view:
            view = view[os.write(out_fd, view) :]

    dispatcher = Dispatcher(
        cache_capacity=cache_capacity, cache_dir=cache_dir, send=send, host=HostChannel(reader, send)
    )
    send(protocol.encode_reply(protocol.HELLO))
    header_size = protocol.REQUEST_HEADER.size
    while True:
        header = reader.read(header_size)
        if len(header) < header_size:
            return  # the parent closed the pipe: shut down quietly
        meta_len, artifact_len = protocol.REQUEST_HEADER.unpack(header)
        meta = reader.read(meta_len)
        artifact = reader.read(artifact_len)
        if len(meta) < meta_len or len(artifact) < artifact_len:
            return
        result = dispatcher.run(protocol.decode_request(meta, artifact))
        send(protocol.encode_result(result))


def main(argv: list[str] | None = None) -> None:
    """Entry point of a runner subprocess."""
    parser = argparse.ArgumentParser(prog="python -m runner.child")
    parser.add_argument("--data-limit", type=int, default=0, help="RLIMIT_DATA in bytes")
    parser.add_argument("--cache-capacity", type=int, default=64)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    if args.data_limit > 0:
        # RLIMIT_DATA, not RLIMIT_AS: wasmtime reserves gigabytes of address space per
        # memory up front, but only pages made writable count against the data limit.
        resource.setrlimit(resource.RLIMIT_DATA, (args.data_limit, args.data_limit))
    out_fd = os.dup(1)
    os.dup2(2, 1)
    reader = os.fdopen(os.dup(0), "rb", buffering=1 << 16)
    try:
        serve(reader, out_fd, cache_capacity=args.cache_capacity, cache_dir=args.cache_dir)
    except BrokenPipeError:
        pass  # the parent went away mid-reply


if __name__ == "__main__":
    main()
