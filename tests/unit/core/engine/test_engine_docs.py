from tests.unit.core.engine.rules_examples import DOC, updated


def test_rules_doc_examples_match_the_engine() -> None:
    document = DOC.read_text()
    assert updated(document) == document, "run: python -m tests.unit.core.engine.rules_examples"
