"""Retention and data-subject requests: purging old conversations (their numbers kept as daily
aggregates for the metrics page), and exporting or erasing everything stored about one person.
docs/privacy.md describes the behaviour; each module's docstring says why it works the way it does.

Layer 9, operations (with gaps, its sibling): may use every layer below, never a transport.
"""
