"""Settings package: `base` is the application's settings, `test` adjusts them for the test suite.

Kept empty on purpose: importing `supportbot.settings.test` must not load `base` before the test
module has chosen its own data directory.
"""
