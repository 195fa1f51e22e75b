"""The suite's own shape: helpers are imported from support modules (conftest files hold
fixtures, which pytest injects), and intent rows come from the one factory,
`tests.factories.make_intent`, so their defaults cannot drift apart again; browser tests wait
through `tests.e2e.support.until`, never Playwright's `wait_for_function`, and whatever opens a
browser context waits for the live server's requests before the database is flushed."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
FACTORIES = TESTS / "factories.py"

# Modules that may write intent rows without the factory, each for a reason. Keep it short.
RAW_INTENT_ROWS_ALLOWED: dict[str, str] = {
    # (none today)
}


def _modules() -> list[tuple[str, ast.Module]]:
    return [
        (str(path.relative_to(TESTS.parent)), ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(TESTS.rglob("*.py"))
    ]


def _imports_a_conftest(tree: ast.Module) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (
            (node.module or "").split(".")[-1] == "conftest"
            or any(alias.name == "conftest" for alias in node.names)
        ):
            return True
        if isinstance(node, ast.Import) and any(
            alias.name.split(".")[-1] == "conftest" for alias in node.names
        ):
            return True
    return False


def _intent_factories(tree: ast.Module) -> list[str]:
    """`def make_intent`/`intent_factory` and `Intent.objects.create(` found in `tree`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in (
            "make_intent",
            "intent_factory",
        ):
            found.append(f"def {node.name} (line {node.lineno})")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("create", "bulk_create", "get_or_create")
            and ast.unparse(node.func.value) == "Intent.objects"
        ):
            found.append(f"Intent.objects.{node.func.attr}( (line {node.lineno})")
    return found


def _string_evaluating_waits(tree: ast.Module) -> list[str]:
    """Calls of `wait_for_function` in `tree`: Playwright re-runs its predicate through `eval`,
    which the site's CSP refuses, so such a wait fails or passes by timing."""
    return [
        f"wait_for_function (line {node.lineno})"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "wait_for_function"
    ]


def _browser_contexts_left_running(tree: ast.Module) -> list[str]:
    """Module-level functions that open a browser context without `requests_in_flight` among
    their fixtures: the server may still be writing for that browser while the database is
    flushed under it (CI failed on it once)."""
    return [
        f"{node.name} (line {node.lineno})"
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and "requests_in_flight" not in {arg.arg for arg in node.args.args}
        and any(
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "new_context"
            for call in ast.walk(node)
        )
    ]


def test_no_module_imports_from_a_conftest():
    offenders = [name for name, tree in _modules() if _imports_a_conftest(tree)]
    assert offenders == [], "move the helpers to a support module and import them from there"


def test_intent_rows_come_from_the_one_factory():
    offenders = {
        name: found
        for name, tree in _modules()
        if name != str(FACTORIES.relative_to(TESTS.parent))
        and name not in RAW_INTENT_ROWS_ALLOWED
        and (found := _intent_factories(tree))
    }
    assert offenders == {}, "use tests.factories.make_intent (pass what differs explicitly)"


def test_browser_tests_never_wait_through_eval():
    offenders = {
        name: found for name, tree in _modules() if (found := _string_evaluating_waits(tree))
    }
    assert offenders == {}, "wait with tests.e2e.support.until (the CSP refuses eval)"


def test_browser_contexts_are_waited_for_before_the_flush():
    offenders = {
        name: found for name, tree in _modules() if (found := _browser_contexts_left_running(tree))
    }
    assert offenders == {}, "take requests_in_flight and call wait_idle() after closing contexts"


def test_the_checks_see_what_they_look_for():
    """The scans above would pass vacuously if they never matched; pin that they do."""
    sample = ast.parse(
        "from tests.simulator.conftest import T1\n"
        "def make_intent(): pass\n"
        "Intent.objects.create(kind='payment')\n"
    )
    assert _imports_a_conftest(sample)
    assert _imports_a_conftest(ast.parse("from tests.api import conftest"))
    assert not _imports_a_conftest(ast.parse("from tests.api.support import post"))
    assert _intent_factories(sample) == [
        "def make_intent (line 2)",
        "Intent.objects.create( (line 3)",
    ]
    assert _intent_factories(dict(_modules())["tests/factories.py"])
    assert _string_evaluating_waits(ast.parse("page.wait_for_function('x')")) == [
        "wait_for_function (line 1)"
    ]
    opens = "def test_x(browser):\n    def inner():\n        browser.new_context()\n"
    assert _browser_contexts_left_running(ast.parse(opens)) == ["test_x (line 1)"]
    assert not _browser_contexts_left_running(
        ast.parse(opens.replace("(browser)", "(browser, requests_in_flight)"))
    )
    assert _browser_contexts_left_running(dict(_modules())["tests/e2e/conftest.py"]) == []
