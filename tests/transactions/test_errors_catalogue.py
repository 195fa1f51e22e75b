"""The error catalogue (`transactions.errors.Code`) is the only place a code is written: every
member is complete, every raise site names a member, and no code hides as a string literal."""

import ast

import pytest

from tests.factories import make_intent
from tests.transactions.source_scan import (
    CODE_TAKING_CALLS,
    call_name,
    code_argument,
    code_references,
    project_sources,
)
from transactions.errors import Code, IntentRuleError
from transactions.selectors import reversal_allowed


def test_every_member_has_a_spanish_title_and_an_error_status():
    assert len({code.value for code in Code}) == len(Code)
    for code in Code:
        assert code.value == code.name.lower(), code
        assert code.problem_title.strip() and code.problem_title[0].isupper(), code
        assert 400 <= code.http_status <= 599, code
        assert isinstance(code.api, bool), code


def test_the_rule_error_takes_its_status_from_the_catalogue():
    error = IntentRuleError(Code.REFERENCE_IN_USE, "Referencia en uso.", field="reference")
    assert error.http_status == 409
    assert IntentRuleError(Code.PROVIDER_REJECTED, "No.").http_status == 422
    assert IntentRuleError(Code.FORBIDDEN, "No.").http_status == 403
    with pytest.raises(ValueError):
        IntentRuleError("no_such_code", "Un código que el catálogo no tiene.")
    with pytest.raises(TypeError):
        IntentRuleError(Code.TERMINAL_BUSY, "Ocupada.", http_status=500)


def test_no_raise_site_passes_a_literal_code():
    offenders = []
    for relative, tree in project_sources():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or call_name(node) not in CODE_TAKING_CALLS:
                continue
            argument = code_argument(node)
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                offenders.append(f"{relative}:{node.lineno} {argument.value!r}")
    assert offenders == []


def test_no_code_is_written_as_a_string_outside_the_catalogue():
    """Stricter than the raise sites: a catalogue value as any string (a DRF `code=`, a dict of
    field codes, a reason tuple) would drift the day the catalogue changes. Docstrings may
    mention codes."""
    values = {code.value for code in Code}
    offenders = []
    for relative, tree in project_sources():
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and node.value in values
                and id(node) not in docstrings
            ):
                offenders.append(f"{relative}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_every_code_named_in_the_source_is_a_member():
    unknown = {
        name: files for name, files in code_references().items() if name not in Code.__members__
    }
    assert unknown == {}


def test_the_reversal_rule_answers_catalogue_codes(store_a, terminal_a, credential):
    declined = make_intent(store_a, terminal=terminal_a, state="declined")
    allowed, (code, message) = reversal_allowed(payment=declined)
    assert not allowed and code is Code.REVERSAL_NOT_ALLOWED and message
