"""Plain words: rule numbers (R1…R13) are for code, tests and docs, never in what a user reads —
templates (pages and emails), the messages, errors and reasons the code shows or stores, the
API's human `error` texts, the script's strings. Kept out of this check: comments and docstrings,
template comments, and model fields' `help_text` (schema notes, shown only in the Django admin;
a form that shows one sets its own)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE = re.compile(r"\bR\d{1,2}\b")
TEMPLATE_COMMENTS = re.compile(r"\{#.*?#\}|\{% comment %\}.*?\{% endcomment %\}|<!--.*?-->", re.S)
CODE = ["accounts", "compliance", "messaging", "config"]


def template_hits():
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.is_file():
            text = TEMPLATE_COMMENTS.sub("", path.read_text())
            for n, line in enumerate(text.splitlines(), 1):
                if RULE.search(line):
                    yield f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}"


def _docstrings(tree):
    kinds = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        if isinstance(node, kinds) and node.body and isinstance(node.body[0], ast.Expr):
            yield node.body[0].value


def _model_help_texts(path, tree):
    if path.name != "models.py":
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "help_text":
            yield from ast.walk(node.value)


def python_hits():
    for app in CODE:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            skip = {id(n) for n in _docstrings(tree)} | {id(n) for n in _model_help_texts(path, tree)}
            for node in ast.walk(tree):
                text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""
                if id(node) not in skip and RULE.search(text):
                    yield f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:120]!r}"


def script_hits():
    for path in sorted((ROOT / "static" / "js").rglob("*.js")):
        text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
        for n, line in enumerate(text.splitlines(), 1):
            if RULE.search(line.split("//")[0]):
                yield f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}"


def test_no_rule_numbers_in_templates():
    assert list(template_hits()) == []


def test_no_rule_numbers_in_strings_the_code_shows():
    assert list(python_hits()) == []


def test_no_rule_numbers_in_scripts():
    assert list(script_hits()) == []


def test_the_check_finds_what_it_looks_for(tmp_path):
    """The patterns are not vacuous: a rule number in text is found, one in a comment is not."""
    assert RULE.search("blocked (R11).") and RULE.search("R8: rates") and not RULE.search("R2D2 or HR8")
    assert not RULE.search(TEMPLATE_COMMENTS.sub("", "{# R8 #}<p>ok</p>{% comment %}R9{% endcomment %}"))
    tree = ast.parse('"""R1 doc."""\nX = "Blocked (R11)."\n')
    docs = {id(n) for n in _docstrings(tree)}
    found = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and id(n) not in docs]
    assert found == ["Blocked (R11)."]
