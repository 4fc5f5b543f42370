from django.apps import AppConfig


class DemoshopConfig(AppConfig):
    name = "demoshop"
    verbose_name = "Demo shop (stand-in for the company's order API)"
