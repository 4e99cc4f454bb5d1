"""The ``ivr311`` console command: `ivr311.cli` wires every package's sub-commands together and
`ivr311.boundary` is the one error boundary around each of them (documented exit codes, never a
traceback)."""
