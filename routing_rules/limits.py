"""Limits on the rule-set text every entry point accepts (files, the admin API, the store).

One place for them, so a file the command line accepts is never refused by the API or the
store, and no input can make validation use unbounded memory or time.
"""

from __future__ import annotations

MAX_RULES_BYTES = 1024 * 1024
"""A rule set's text, in UTF-8 bytes. The largest demo is under 10 KiB; a region with hundreds
of destinations stays well below this."""

MAX_YAML_DEPTH = 40
"""How deeply a rule-set file may nest mappings and lists (the schema itself needs 6)."""

MAX_YAML_NODES = 200_000
"""How many values a rule-set file may hold once its aliases are expanded, so an alias bomb is
refused before anything walks it."""
