"""``python -m piaoju``: the ``piaoju`` command."""

from ._cli import main

if __name__ == "__main__":
    main()
