"""Asterisk files generated from the active rules: the dialplan (Stasis entry and the
controller-free fallback) and a complete minimal Asterisk configuration.

- ``dialplan.render``: ``render_dialplan(snapshot, options)``, with ``DialplanOptions`` from
  ``dialplan.options``.
- ``dialplan.apply``: ``regenerate_dialplan(...)``, which the rules apply path calls to rewrite
  the dialplan and reload it.
- ``dialplan.asterisk_conf``: ``render_asterisk_conf(snapshot, settings, out_dir)``.
- ``dialplan.prompts``: ``playable_prompt_ids(snapshot)``, every prompt a call can hear.
"""
