"""The ``piaoju`` command installed by the wheel: the same code as the Rust ``piaoju`` binary
(``piaoju receipt|invoice IMAGE``, ``piaoju batch receipt|invoice INPUT…``)."""

import sys
from typing import List, Optional

from . import _native


def main(argv: Optional[List[str]] = None) -> None:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``) and exit with its status."""
    args = sys.argv[1:] if argv is None else argv
    sys.exit(_native.cli_main(["piaoju", *args]))


if __name__ == "__main__":
    main()
