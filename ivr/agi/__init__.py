"""Routing answers for sites that keep their own dialplan, without the controller.

`ivr.agi.script` is ``ivr311-agi``, run from the dialplan's ``AGI()``: it sets the channel
variables that say where to dial, from the same decision engine the controller uses.
"""
