"""What compliance records, told to whoever listens (outgoing webhooks in messaging connect to
these in MessagingConfig.ready). compliance never imports messaging: it only sends."""

from django.dispatch import Signal

violation_recorded = Signal()  # sender=Violation, violation=
suspension_started = Signal()  # sender=Suspension, suspension=
suspension_ended = Signal()  # sender=Suspension, suspension=
