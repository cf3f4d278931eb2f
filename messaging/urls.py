from django.urls import path

from messaging import webhooks

urlpatterns = [
    path("webhooks/twilio/status", webhooks.status, name="twilio_status"),
    path("webhooks/twilio/inbound", webhooks.inbound, name="twilio_inbound"),
    path("webhooks/twilio/voice-status", webhooks.voice_status, name="twilio_voice_status"),
]
