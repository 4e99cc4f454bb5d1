"""The prompts ivr311 plays: a manifest of ids and texts, and the audio rendered from it."""
