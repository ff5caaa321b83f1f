"""The Django app of the contract's mirror."""

from django.apps import AppConfig


class DjangoSourceConfig(AppConfig):
    name = "django_source"
    label = "django_source"
    default_auto_field = "django.db.models.BigAutoField"
