"""Parses one input text (CloudFormation YAML or JSON, CLI JSON) into plain data, bounded in size and depth.

CloudFormation's short-form tags (`!Ref`, `!Sub`, `!GetAtt`...) become their long form (`{"Ref": ...}`,
`{"Fn::Sub": ...}`), so one resolver handles both spellings. The walkthroughs' CLI inputs hold shell
placeholders outside strings (`"hostname": $DNS_HOSTNAME`); those become the string `${DNS_HOSTNAME}` and stay
symbolic, as CloudFormation parameters without a value do.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from portico.core.appmesh.errors import ImportFailure
from portico.core.untrusted import MAX_DEPTH, MAX_YAML_NODES, UntrustedInputError, _BoundedSafeLoader
from portico.core.untrusted import load_json as load_untrusted_json

MAX_BYTES = 4 * 1024 * 1024  # the largest AWS walkthrough template is 40 KB; CloudFormation's own limit is 1 MB

_SHORT_FORMS = {
    "Ref": "Ref",
    "Condition": "Condition",
    "GetAtt": "Fn::GetAtt",
}


class _CfnLoader(_BoundedSafeLoader):
    """The project's bounded SafeLoader (depth, alias expansion) plus CloudFormation's short-form tags."""


def _tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _SHORT_FORMS.get(suffix, f"Fn::{suffix}")
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


def _check_size(file: str, text: str) -> None:
    if len(text) > MAX_BYTES:
        raise ImportFailure(file, f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")


def load_yaml(file: str, text: str) -> Any:
    _check_size(file, text)
    loader: _CfnLoader | None = None
    try:
        loader = _CfnLoader(text, MAX_DEPTH, MAX_YAML_NODES)  # the reader refuses control characters here
        return loader.get_single_data()
    except UntrustedInputError as exc:
        line = re.search(r"line (\d+)", str(exc))
        resource, field = _enclosing(text, int(line.group(1)) - 1) if line else ("", "")
        raise ImportFailure(file, str(exc), resource=resource, field=field) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        resource, field = _enclosing(text, mark.line if mark is not None else 0)
        message = f"YAML syntax error: {where}{exc.problem or exc.context}"
        raise ImportFailure(file, message, resource=resource, field=field) from None
    except yaml.YAMLError as exc:
        raise ImportFailure(file, f"YAML syntax error: {exc}") from None
    except (ValueError, TypeError, RecursionError) as exc:  # a constructor's refusal (a huge int, a bad date)
        raise ImportFailure(file, f"the YAML could not be read: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()


_KEY_LINE = re.compile(r"^(\s*)(?:- )?([A-Za-z0-9_:.-]+):")


def _enclosing(text: str, line: int) -> tuple[str, str]:
    """The resource and the key path around a syntax error, from the indentation of the lines above it."""
    stack: list[tuple[int, str]] = []
    for raw in text.splitlines()[: line + 1][-2000:]:
        m = _KEY_LINE.match(raw)
        if m is None:
            continue
        indent = len(m.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, m.group(2)))
    keys = [k for _, k in stack]
    if len(keys) >= 2 and keys[0] == "Resources":
        return f"Resources.{keys[1]}", ".".join(keys[2:])
    return "", ".".join(keys)


_PLACEHOLDER = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def _quote_placeholders(text: str) -> str:
    """Turn shell placeholders outside JSON strings into strings (`$NAME` -> `"${NAME}"`)."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            in_string = ch != '"'
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == "$" and (m := _PLACEHOLDER.match(text, i)):
            out.append(json.dumps("${" + m.group(1) + "}"))
            i = m.end()
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def load_json(file: str, text: str) -> Any:
    _check_size(file, text)
    try:
        return load_untrusted_json(_quote_placeholders(text), what="the JSON", max_bytes=MAX_BYTES * 2)
    except UntrustedInputError as exc:
        raise ImportFailure(file, str(exc)) from None


def load_text(file: str, text: str) -> Any:
    """JSON when the text starts like JSON, else YAML (CloudFormation templates come in both)."""
    if text.lstrip().startswith(("{", "[")):
        return load_json(file, text)
    return load_yaml(file, text)
