"""The command-line front end. Each subcommand lives in its own module with
``register(subparsers)`` and ``run(args) -> int``; ``main`` only dispatches."""
