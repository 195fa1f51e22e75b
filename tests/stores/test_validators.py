import pytest
from django.core.exceptions import ValidationError

from stores.forms import MerchantForm
from stores.models import Merchant, Terminal
from stores.validators import (
    SANDBOX_CUIT,
    cuit_has_valid_check_digit,
    normalize_cuit,
    validate_cuit,
    validate_terminal_id,
)


class TestCuit:
    def test_valid_cuit_passes(self):
        validate_cuit("30-71234567-1")
        validate_cuit("20-12345678-6")

    def test_bad_check_digit_is_refused(self):
        with pytest.raises(ValidationError) as exc:
            validate_cuit("30-71234567-2")
        assert exc.value.code == "cuit_check_digit"
        assert "dígito verificador" in exc.value.messages[0]

    @pytest.mark.parametrize("value", ["30-7123456-1", "307123456712", "30-71234567"])
    def test_wrong_length_is_refused(self, value):
        with pytest.raises(ValidationError) as exc:
            validate_cuit(value)
        assert exc.value.code == "cuit_length"
        assert "11 dígitos" in exc.value.messages[0]

    @pytest.mark.parametrize("value", ["30-7123456A-1", "XX-71234567-1", "30/71234567/1"])
    def test_letters_and_symbols_are_refused(self, value):
        with pytest.raises(ValidationError) as exc:
            validate_cuit(value)
        assert exc.value.code == "cuit_format"

    @pytest.mark.parametrize("value", ["30712345671", "30-71234567-1", " 30.71234567.1 "])
    def test_normalises_to_dashed_form(self, value):
        assert normalize_cuit(value) == "30-71234567-1"

    def test_sandbox_cuit_has_a_bad_check_digit(self):
        assert not cuit_has_valid_check_digit(SANDBOX_CUIT)


@pytest.mark.django_db
class TestMerchantCuit:
    def test_model_clean_normalises(self):
        merchant = Merchant(cuit="30712345671", legal_name="Almacén S.A.")
        merchant.full_clean()
        assert merchant.cuit == "30-71234567-1"
        assert merchant.cuit_warning == ""

    def test_model_clean_refuses_bad_check_digit(self):
        merchant = Merchant(cuit="30712345672", legal_name="Almacén S.A.")
        with pytest.raises(ValidationError) as exc:
            merchant.full_clean()
        assert "cuit" in exc.value.message_dict

    def test_sandbox_cuit_refused_without_sandbox_only(self):
        merchant = Merchant(cuit=SANDBOX_CUIT, legal_name="Sandbox S.A.")
        with pytest.raises(ValidationError) as exc:
            merchant.full_clean()
        assert exc.value.message_dict["cuit"] == ["El dígito verificador del CUIT no es válido."]

    def test_sandbox_cuit_allowed_with_sandbox_only_and_warns(self):
        merchant = Merchant(cuit="30123456789", legal_name="Sandbox S.A.", sandbox_only=True)
        merchant.full_clean()
        assert merchant.cuit == SANDBOX_CUIT
        assert "sandbox" in merchant.cuit_warning

    def test_sandbox_only_merchant_with_a_real_cuit_has_no_warning(self):
        merchant = Merchant(cuit="30-71234567-1", legal_name="Real S.A.", sandbox_only=True)
        merchant.full_clean()
        assert merchant.cuit_warning == ""

    def test_form_normalises_and_saves(self):
        form = MerchantForm(data={"cuit": "30 71234567 1", "legal_name": "Almacén S.A."})
        assert form.is_valid(), form.errors
        assert form.save().cuit == "30-71234567-1"

    @pytest.mark.parametrize(
        ("cuit", "message"),
        [
            ("30-71234567-2", "El dígito verificador del CUIT no es válido."),
            ("30-7123456", "El CUIT debe tener 11 dígitos."),
            ("30-ABCDEFGH-1", "El CUIT solo puede contener números y guiones."),
        ],
    )
    def test_form_errors_are_in_spanish(self, cuit, message):
        form = MerchantForm(data={"cuit": cuit, "legal_name": "Almacén S.A."})
        assert not form.is_valid()
        assert form.errors["cuit"] == [message]

    def test_form_refuses_a_duplicate_written_differently(self):
        Merchant.objects.create(cuit="30-71234567-1", legal_name="Primero S.A.")
        form = MerchantForm(data={"cuit": "30712345671", "legal_name": "Segundo S.A."})
        assert not form.is_valid()
        assert "cuit" in form.errors


class TestTerminalId:
    @pytest.mark.parametrize(
        "value", ["1234567", "123456789", "1234567A", "abcdefgh", "", " 1234567"]
    )
    def test_refused(self, value):
        with pytest.raises(ValidationError) as exc:
            validate_terminal_id(value)
        assert exc.value.messages == ["El número de terminal debe tener exactamente 8 dígitos."]

    @pytest.mark.parametrize("value", ["38011127", "00000001"])
    def test_accepted(self, value):
        validate_terminal_id(value)

    @pytest.mark.django_db
    def test_model_validation_uses_it(self, store_a):
        terminal = Terminal(store=store_a, terminal_id="1234567")
        with pytest.raises(ValidationError) as exc:
            terminal.full_clean()
        assert "terminal_id" in exc.value.message_dict


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost./x",  # a trailing dot is still this machine (accepted before)
        "https://caja.localhost/x",
        "https://[::ffff:10.0.0.5]/x",
        "https://[::ffff:169.254.169.254]/latest",
        "https://[fe80::1%25eth0]/x",
    ],
)
def test_credential_urls_of_this_machine_or_an_internal_network_are_refused(settings, url):
    from stores.validators import provider_url_problem

    settings.DEBUG = False
    assert provider_url_problem(url) != ""
