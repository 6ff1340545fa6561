"""The runner subprocess: ``python -m runner.sandbox.child``; one Engine, one run at a time.

Reads request frames on stdin and writes reply frames on the original stdout; fd 1 is
pointed at stderr so nothing printed by a library can corrupt the protocol.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import traceback
from typing import Any, BinaryIO

from runner import languages
from runner.contract import Language, RunRequest, RunResult, RunStatus
from runner.engine import make_engine
from runner.sandbox import protocol
from runner.sandbox.host_channel import HostChannel


class Dispatcher:
    """Routes a request to the runner of its language (the table in runner/languages.py): the
    eager languages' runners are made at start, the others on their first run."""

    def __init__(self, *, cache_capacity: int, cache_dir: str | None, send, host: HostChannel | None = None):
        self._send = send
        self._host = host
        self._options = {
            "cache_dir": cache_dir,
            "cache_capacity": cache_capacity,
            "on_compile": self._compile_notice,
        }
        self.engine = make_engine()
        # One runner per module: languages that share a module (AssemblyScript, wasm) share it.
        self._by_module: dict[str, Any] = {}
        self._runners: dict[Language, Any] = {}
        for language in languages.EAGER:
            self._runners[language] = self._make(language)
        for language, module in languages.RUNNER_MODULES.items():
            if module in self._by_module:
                self._runners[language] = self._by_module[module]
        self._unavailable: dict[Language, str] = {}

    def _make(self, language: Language) -> Any:
        module = languages.RUNNER_MODULES[language]
        if module not in self._by_module:
            self._by_module[module] = languages.runner_factory(language)(self.engine, **self._options)
        return self._by_module[module]

    def run(self, request: RunRequest) -> RunResult:
        """Run one request; an unexpected error is that run's failure, not the process's."""
        try:
            runner = self._runners.get(request.language) or self._start(request.language)
            if runner is None:
                why = self._unavailable[request.language]
                return RunResult(
                    status=RunStatus.FAILED,
                    error_message=(
                        f"{request.language.value} runtime unavailable ({why}); "
                        "ask the operator to check the runner installation"
                    ),
                )
            return runner.run(request, host=self._host)
        except Exception as exc:  # noqa: BLE001 - the subprocess must survive any run
            traceback.print_exc(file=sys.stderr)
            return RunResult(
                status=RunStatus.FAILED,
                error_message=f"internal runner error: {type(exc).__name__}: {exc}",
            )

    def idle(self) -> None:
        """After a reply: let the runners do their cleanup and preparation off the run's time."""
        for runner in {id(runner): runner for runner in self._runners.values()}.values():
            prepare = getattr(runner, "idle", None)
            if prepare is not None:
                try:
                    prepare()
                except Exception:  # noqa: BLE001 - a failed preparation is redone by the next run
                    traceback.print_exc(file=sys.stderr)

    def _start(self, language: Language):
        """The runner of a language not made at start, made on its first run (None if it cannot be)."""
        if language in self._unavailable:
            return None
        # Loading a runtime compiles or maps it: announce it like a compile so the parent does
        # not count it against the run's time limit.
        self._compile_notice(True)
        try:
            runner = self._runners[language] = self._make(language)
            return runner
        except Exception as exc:  # noqa: BLE001 - an absent runtime fails only that language's runs
            traceback.print_exc(file=sys.stderr)
            self._unavailable[language] = f"{type(exc).__name__}: {exc}"
            return None
        finally:
            self._compile_notice(False)

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
        dispatcher.idle()


def main(argv: list[str] | None = None) -> None:
    """Entry point of a runner subprocess."""
    parser = argparse.ArgumentParser(prog="python -m runner.sandbox.child")
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
