"""Reading the project's own source with `ast`: where error codes are named."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("transactions", "stores")

# Calls whose code argument must be a catalogue member, never a string literal.
CODE_TAKING_CALLS = {"IntentRuleError", "ApiProblem", "problem_response", "problem_body"}


def project_sources():
    """(path relative to the repository, parsed module) of the project's code, no migrations."""
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative or relative == "transactions/errors.py":
                continue
            yield relative, ast.parse(path.read_text(), filename=relative)


def call_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def code_argument(node: ast.Call) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == "code":
            return keyword.value
    return node.args[0] if node.args else None


def code_references() -> dict[str, set[str]]:
    """Every `Code.X` named in the project's source: member name -> files naming it."""
    found: dict[str, set[str]] = {}
    for relative, tree in project_sources():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "Code"
            ):
                found.setdefault(node.attr, set()).add(relative)
    return found
