"""Operator commands: create_subaccount (idempotent; the id is the last line on stdout) and
create_api_key (printed once)."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Agency, Membership, Role, SubAccount, User
from messaging.keys import api_key_authenticate
from messaging.models import ApiKey, PhoneNumber

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue().splitlines()


def create(agency="Initech", name="Initech Dental", email="Owner@Initech.test", number="+1 (718) 555-0133"):
    return run("create_subaccount", "--agency", agency, "--name", name, "--owner-email", email, "--number", number)


def test_create_subaccount_creates_everything_and_prints_the_id_last(world):
    lines = create()
    sub = SubAccount.objects.get(name="Initech Dental")
    assert lines[-1] == str(sub.pk)
    assert (sub.agency.name, sub.business_name) == ("Initech", "Initech Dental")
    user = User.objects.get(email="owner@initech.test")
    assert Membership.objects.filter(user=user, sub_account=sub, role=Role.SUBACCOUNT_OWNER).exists()
    assert PhoneNumber.objects.get(number="+17185550133").sub_account == sub
    password_line = next(line for line in lines if "password" in line.lower() and "reset" not in line.lower())
    assert user.check_password(password_line.rsplit(" ", 1)[-1])
    assert any("reset" in line for line in lines)


def test_create_subaccount_twice_reuses_and_prints_no_password(world):
    first = create()[-1]
    lines = create()
    assert lines[-1] == first
    assert SubAccount.objects.filter(name="Initech Dental").count() == 1
    assert Agency.objects.filter(name="Initech").count() == 1
    assert not any("password:" in line for line in lines)


def test_create_subaccount_reuses_an_existing_agency_and_user(world):
    lines = create(agency="Acme Marketing", name="Lakeside Vets", email="user@sunrise.test")
    sub = SubAccount.objects.get(pk=lines[-1])
    assert sub.agency == world.A
    assert Membership.objects.get(user=world.a1_user, sub_account=sub).role == Role.SUBACCOUNT_OWNER
    assert world.a1_user.memberships.count() == 2


def test_invalid_number_is_a_command_error_and_nothing_is_created(world):
    with pytest.raises(CommandError, match="not a .*phone number"):
        create(number="12345")
    assert not Agency.objects.filter(name="Initech").exists()


def test_number_of_another_sub_account_is_refused_and_nothing_is_created(world):
    with pytest.raises(CommandError, match="already belongs to another sub-account"):
        create(number="+16465550101")
    assert not SubAccount.objects.filter(name="Initech Dental").exists()
    assert not User.objects.filter(email="owner@initech.test").exists()


def test_create_api_key_prints_a_working_key_once(world):
    lines = run("create_api_key", "--subaccount", str(world.a1.pk), "--name", "Zapier")
    raw = lines[-1]
    key = ApiKey.objects.get(sub_account=world.a1)
    assert api_key_authenticate(raw) == key and key.name == "Zapier"
    assert sum(raw in line for line in lines) == 1


@pytest.mark.parametrize("bad", ["00000000-0000-0000-0000-000000000000", "nope"])
def test_create_api_key_for_unknown_sub_account_is_a_command_error(world, bad):
    with pytest.raises(CommandError, match="No sub-account"):
        run("create_api_key", "--subaccount", bad)
    assert not ApiKey.objects.exists()
