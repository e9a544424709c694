"""The JSON schema a llama.cpp model decodes under: caps that make a small model's answer fit max_tokens."""

from __future__ import annotations

from workbench.models._grammar import bounded_schema

SCHEMA = {
    "type": "object",
    "properties": {
        "classifications": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "statement": {"type": "string"},
                    "reason": {"type": "string", "maxLength": 20},
                    "kind": {"type": "string", "enum": ["a", "b"]},
                    "attributed": {"type": "integer", "enum": [0, 1]},
                },
            },
        },
        "tags": {"type": "array", "maxItems": 9, "items": {"type": "string"}},
    },
}


def test_lists_and_strings_are_capped_unless_the_schema_caps_them() -> None:
    bounded = bounded_schema(SCHEMA, max_items=3, max_length=50)
    items = bounded["properties"]["classifications"]
    props = items["items"]["properties"]
    assert items["maxItems"] == 3 and items["minItems"] == 1
    assert props["statement"]["maxLength"] == 50
    assert props["reason"]["maxLength"] == 20  # the schema's own cap wins
    assert "maxLength" not in props["kind"] and "maxLength" not in props["attributed"]  # enums and numbers are left alone
    assert bounded["properties"]["tags"]["maxItems"] == 9 and bounded["properties"]["tags"]["items"]["maxLength"] == 50


def test_the_input_schema_is_not_changed() -> None:
    bounded_schema(SCHEMA, max_items=3, max_length=50)
    assert "maxItems" not in SCHEMA["properties"]["classifications"]  # type: ignore[operator]
    assert "maxLength" not in SCHEMA["properties"]["classifications"]["items"]["properties"]["statement"]  # type: ignore[index]
