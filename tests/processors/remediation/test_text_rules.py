"""The text rules: shell syntax, credentials and odd characters found; ordinary ids, ARNs and JSON left alone."""

from __future__ import annotations

import pytest

from processors.remediation.text_rules import (
    credential_reasons,
    iter_strings,
    secret_field_reasons,
    shell_syntax_reasons,
    unicode_reasons,
)

ORDINARY = [
    "payroll-exports",
    "sg-0a1b2c3d4e5f60718",
    "arn:aws:iam::123456789012:role/service-role/reporting-lambda",
    "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/reporting:*",
    '{"Version": "2012-10-17", "Statement": []}',
    "0.0.0.0/0",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",  # a SHA-1: 40 characters, but not a secret key
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_identifiers_pass_every_rule(text: str) -> None:
    assert shell_syntax_reasons(text) + credential_reasons(text) + unicode_reasons(text) == []


@pytest.mark.parametrize(("text", "reason"), [
    ("a;b", "';'"), ("a|b", "'|' (pipe)"), ("a&&b", "'&&'"), ("a||b", "'||'"), ("$(id)", "'$('"),
    ("${HOME}", "'${'"), ("`id`", "backtick"), ("a>b", "'>'"), ("a<b", "'<'"), ("a\nb", "newline"),
    ("a & b", "'&'"), ("a\rb", "carriage return"),
])
def test_shell_syntax_is_named(text: str, reason: str) -> None:
    assert any(reason in r for r in shell_syntax_reasons(text))


@pytest.mark.parametrize(("text", "reason"), [
    ("AKIAIOSFODNN7EXAMPLE", "access key id"),
    ("ASIAY34FZKBOKMUTVV7A", "access key id"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "secret access key"),
    ("--profile prod", "'--profile'"),
    ("AWS_SESSION_TOKEN=x", "'aws_session_token'"),
    ("-----BEGIN RSA PRIVATE KEY-----", "private key"),
])
def test_credentials_are_named(text: str, reason: str) -> None:
    assert any(reason in r for r in credential_reasons(text))


@pytest.mark.parametrize(("text", "reason"), [
    ("pay\u200broll", "U+200B"), ("pay\u202eroll", "U+202E"), ("pay\u2066roll", "U+2066"),
    ("p\u0430yroll", "non-ASCII characters U+0430"), ("\uff50ayroll", "U+FF50"), ("a\x00b", "U+0000"),
    ("x" * 2049, "longer than 2048"),
])
def test_hidden_foreign_and_over_long_text_is_named(text: str, reason: str) -> None:
    assert any(reason in r for r in unicode_reasons(text))


def test_every_string_of_a_json_value_is_visited_keys_included() -> None:
    assert list(iter_strings({"a": ["b", {"c": 1, "d": "e"}], "f": True})) == ["a", "b", "c", "d", "e", "f"]


@pytest.mark.parametrize("text", ["ghp_1234567890abcdefghijklmnopqrstuvwxyzAB", "password=hunter2",
                                  "https://admin:s3cret@db.example.com/x"])
def test_the_projects_redaction_patterns_count_as_credentials_too(text: str) -> None:
    assert "credentials: a secret (token, key or password) is in the text" in credential_reasons(text)


def test_parameters_named_as_secrets_are_found_wherever_they_are() -> None:
    assert secret_field_reasons({"Name": "t", "Auth": [{"SecretAccessKey": "x"}], "SessionToken": "y"}) == [
        "credentials: parameter Auth[0].SecretAccessKey holds a secret",
        "credentials: parameter SessionToken holds a secret"]
    assert secret_field_reasons({"KmsKeyId": "alias/x", "PublicAccessBlockConfiguration": {"BlockPublicAcls": True}}) == []
