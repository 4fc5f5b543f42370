import pytest

from knowledge.selectors import knowledge_settings_changed


@pytest.fixture(autouse=True)
def _fresh_knowledge_settings_cache():
    """Rolled-back test transactions send no signals: start each test without the glossary and
    threshold an earlier test left in retrieval's per-process cache."""
    knowledge_settings_changed()
    yield
    knowledge_settings_changed()
