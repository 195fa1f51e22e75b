"""The webhooks' place in the layers: below the interfaces, and HTTP only through the gateway."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_webhooks_never_import_the_interfaces():
    sources = [*(ROOT / "transactions" / "webhooks").glob("*.py")]
    sources += [ROOT / "transactions" / "intent_document.py", ROOT / "stores" / "address_policy.py"]
    for path in sources:
        bad = {
            name
            for name in _imports(path)
            if name.startswith(("transactions.api", "transactions.dashboard"))
        }
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_only_the_gateway_imports_httpx():
    for package in ("transactions", "stores", "ecrportal"):
        for path in (ROOT / package).rglob("*.py"):
            if "gateway" in path.relative_to(ROOT).parts:
                continue
            assert "httpx" not in _imports(path), f"{path.relative_to(ROOT)} imports httpx"


def test_the_address_policy_imports_nothing_of_the_project():
    imported = _imports(ROOT / "stores" / "address_policy.py")
    assert not {n for n in imported if n.split(".")[0] in ("stores", "transactions", "django")}
