"""supportbot: the Django project package."""
