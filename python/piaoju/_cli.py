"""The ``piaoju`` command installed by the wheel: the same code as the Rust ``piaoju`` binary
(``piaoju receipt|invoice IMAGE``, ``piaoju batch receipt|invoice INPUT…``, ``piaoju cache …``).

Ctrl-C, SIGTERM and SIGHUP stop a batch the same way: no new call starts, the calls in flight
finish, every finished result is written, and the command exits with 128 + the signal's number
(130, 143, 129); the same signal again ends it at once. A signal the command was started with
ignored (nohup, a shell's background job) stays ignored."""

import signal
import sys
from types import FrameType
from typing import Any, Dict, List, Optional

from . import _native


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread for the command to stop its batch."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: Optional[FrameType]) -> None:
    raise Terminated(signum)


def main(argv: Optional[List[str]] = None) -> None:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``) and exit with its status."""
    args = sys.argv[1:] if argv is None else argv
    previous: Dict[int, Any] = {}
    for name in ("SIGTERM", "SIGHUP"):
        number = getattr(signal, name, None)
        # A signal the command was started with ignored (nohup) stays ignored.
        if number is not None and signal.getsignal(number) is not signal.SIG_IGN:
            previous[number] = signal.signal(number, _raise_terminated)
    try:
        status = _native.cli_main(["piaoju", *args])
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    sys.exit(status)


if __name__ == "__main__":
    main()
