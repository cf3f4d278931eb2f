"""Django's password-reset views with this project's forms (throttled emails; a new password
lifts login lockouts). Included before django.contrib.auth.urls, so these names win."""

from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.forms import PasswordResetForm, SetPasswordForm

urlpatterns = [
    path("password_reset/", auth_views.PasswordResetView.as_view(form_class=PasswordResetForm), name="password_reset"),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(form_class=SetPasswordForm),
        name="password_reset_confirm",
    ),
]
