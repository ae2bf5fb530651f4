"""A deliberately broken copy of template.yaml fails the same checks with a message naming the mistake."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy_checks import assert_cfn_lint_clean, assert_tables_match_code

from localdev.deploy.tools import REPO

_CONFIG_KEY = "        - AttributeName: kind\n          KeyType: HASH\n"


def _broken_copy(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = (REPO / "template.yaml").read_text()
    assert text.count(old) >= count, f"the fixture no longer finds {old!r} in template.yaml"
    broken = tmp_path / "template.yaml"
    broken.write_text(text.replace(old, new, count))
    return broken


def test_typo_in_a_key_attribute_fails_cfn_lint_naming_it(tmp_path: Path) -> None:
    broken = _broken_copy(tmp_path, _CONFIG_KEY, _CONFIG_KEY.replace("kind", "knid"))
    with pytest.raises(AssertionError, match="knid"):
        assert_cfn_lint_clean(broken)


def test_renamed_key_fails_the_code_contract_naming_table_and_key(tmp_path: Path) -> None:
    # Consistent in AttributeDefinitions and KeySchema, so CloudFormation would accept it: only the contract
    # with the code catches it.
    broken = _broken_copy(tmp_path, "AttributeName: kind", "AttributeName: knid", count=2)
    assert_cfn_lint_clean(broken)
    with pytest.raises(AssertionError, match=r"ConfigTable: key schema is knid \(HASH\), name \(RANGE\)"):
        assert_tables_match_code(broken)


def test_disabled_ttl_fails_the_code_contract(tmp_path: Path) -> None:
    broken = _broken_copy(tmp_path, "        Enabled: true\n", "        Enabled: false\n", count=1)
    with pytest.raises(AssertionError, match="QuotaTable: TTL must be enabled on 'expiresAt'"):
        assert_tables_match_code(broken)
