"""``python -m optimizer.cli``: the ``territory`` command."""

from optimizer.cli.main import main

main()
