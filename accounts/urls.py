from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch, name="switch"),
    path("support/", views.support_home, name="support_home"),
]
