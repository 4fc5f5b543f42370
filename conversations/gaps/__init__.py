"""The content-gap report: what customers asked that the bot could not answer (or answered
unhelpfully), grouped by meaning, with the actions that close each gap.

Layer 9, operations (with privacy, its sibling): may use every layer below, never a transport.
"""
