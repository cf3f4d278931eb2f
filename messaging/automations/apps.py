from django.apps import AppConfig


class AutomationsConfig(AppConfig):
    """Workflows, their enrollments and the sub-account's "pause all": part of messaging (they
    send through its one send path), an app of their own so their models and migrations sit
    with the code that runs them."""

    name = "messaging.automations"
    label = "automations"
    verbose_name = "Automations"
