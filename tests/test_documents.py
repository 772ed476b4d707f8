"""beamwatch.documents: validation, identities, normalisation."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from helpers import make_run

from beamwatch import documents as docs


def test_every_name_of_a_real_run_validates():
    for name, doc in make_run(3) + make_run(4, page_size=2):
        docs.validate(name, doc)


def test_validation_does_not_modify_the_document():
    """Regression: fastjsonschema inserted schema defaults (scan_id=0, sample='', ...)."""
    start = {"uid": "u1", "time": 1.0}
    before = copy.deepcopy(start)
    docs.validate("start", start)
    assert start == before


@pytest.mark.parametrize("name, doc, message", [
    ("nope", {}, "unknown document name 'nope'"),
    ("start", [], "must be a JSON object, got list"),
    ("start", {"uid": "x"}, "invalid start document"),
    ("start", {"uid": 1, "time": 1.0}, "invalid start document"),
    ("event", {"uid": "e", "time": 1.0, "seq_num": "1", "descriptor": "d", "data": {}, "timestamps": {}},
     "invalid event document"),
])
def test_invalid_documents_have_clear_errors(name, doc, message):
    with pytest.raises(docs.DocumentError, match=message):
        docs.validate(name, doc)


def test_dedupe_keys():
    run = make_run(4, page_size=2)
    page = run[2][1]
    assert docs.dedupe_key("start", run[0][1]) == run[0][1]["uid"]
    assert docs.dedupe_key("event_page", page) == f"event_page:{page['uid'][0]}:{page['uid'][1]}:2"
    assert docs.dedupe_key("datum", {"datum_id": "r/1"}) == "r/1"
    assert docs.dedupe_key("datum_page", {"datum_id": ["r/1", "r/2", "r/3"]}) == "datum_page:r/1:r/3:3"


def test_jsonable_numpy():
    doc = {"a": np.float32(1.5), "b": np.arange(3), "c": {1: np.int64(2)}, "d": (1, 2)}
    assert docs.jsonable(doc) == {"a": 1.5, "b": [0, 1, 2], "c": {"1": 2}, "d": [1, 2]}


def test_event_page_roundtrip():
    run = make_run(3)
    events = [d for n, d in run if n == "event"]
    page = docs.as_event_page("event", events[0])
    assert docs.events_of("event_page", page) == [events[0]]
    assert docs.event_page_len(page) == 1
    with pytest.raises(docs.DocumentError):
        docs.as_event_page("start", run[0][1])
