"""The close-code enum (realtime/close_codes.py) is the one list: the browser client's
generated file, docs/asyncapi.yaml and docs/protocol.md's table all say what it says."""

import re

import yaml

import realtime
from realtime.close_codes import ASYNCAPI_PATH, JS_PATH, CloseCode, render_js

REGENERATE = "run: python -m realtime.close_codes --write"


def test_the_browser_close_code_list_is_generated_from_the_enum():
    assert JS_PATH.read_text() == render_js(), REGENERATE


def test_the_asyncapi_document_lists_exactly_the_enum_close_codes():
    document = yaml.safe_load(ASYNCAPI_PATH.read_text())
    listed = document["channels"]["socket"]["x-close-codes"]
    assert [(entry["code"], entry["name"]) for entry in listed] == \
        [(code.value, code.name) for code in CloseCode], REGENERATE
    assert all(entry["description"] == CloseCode(entry["code"]).meaning for entry in listed)


def test_the_protocol_close_code_table_has_a_row_per_code_and_no_other():
    text = (ASYNCAPI_PATH.parent / "protocol.md").read_text()
    table = text.split("## Close codes", 1)[1].split("\n## ", 1)[0]
    rows = {int(code) for code in re.findall(r"^\| (\d{4}) \|", table, re.MULTILINE)}
    assert rows == {code.value for code in CloseCode}


def test_the_enum_is_public_and_its_members_are_plain_close_codes():
    assert "CloseCode" in realtime.__all__ and realtime.CloseCode is CloseCode
    assert CloseCode(4503) is CloseCode.SLOW_CONSUMER
    assert str(CloseCode.UNAUTHORIZED) == "4401"  # the metrics label and the ASGI message
