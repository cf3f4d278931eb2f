from django.core.management import call_command


def clear_expired_sessions():
    """Hourly housekeeping (config/cron.py): drop expired login sessions."""
    call_command("clearsessions")
