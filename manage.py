#!/usr/bin/env python
"""Django's command-line utility. Settings start the embedded Postgres/Redis when their URLs are unset."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "supportbot.settings.base")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
