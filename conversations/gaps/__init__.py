"""The content-gap report: what customers asked that the bot could not answer (or answered
unhelpfully), grouped by meaning, with the actions that close each gap."""
