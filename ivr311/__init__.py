"""The ``ivr311`` console command: `ivr311.cli` wires every package's sub-commands together."""
