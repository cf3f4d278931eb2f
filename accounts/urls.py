from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch, name="switch"),
    path("agencies/<uuid:agency_id>/", views.agency_detail, name="agency_detail"),
    path("s/<uuid:sub_account_id>/", views.subaccount_dashboard, name="subaccount_dashboard"),
    path("s/<uuid:sub_account_id>/settings/business-info/", views.business_info, name="business_info"),
    path("support/", views.support_home, name="support_home"),
]
