"""The ownership rule: a user may name only the topics of their namespace."""

import pytest
from django.contrib.auth import get_user_model

from kafkaml.errors import ConflictError
from kafkaml.topics.ownership import foreign_topics, owns_topic, require_owned_topics


def user(name: str):
    return get_user_model()(username=name, pk=7)


def test_a_user_owns_exactly_the_topics_under_their_prefix():
    alice = user("alice")
    assert owns_topic(alice, "alice.digits")
    assert owns_topic(alice, "alice.a.b-c_d")
    for topic in ("alice", "alice.", "alice-digits", "bob.digits", "xalice.digits", "", "ALICE.x"):
        assert not owns_topic(alice, topic), topic
    # a dotted username's prefix is encoded: ``a.b`` cannot own ``a.b.x`` by looking like it
    dotted = user("a.b")
    assert owns_topic(dotted, "a_2eb.x") and not owns_topic(dotted, "a.b.x")
    assert not owns_topic(user("a"), "a_2eb.x")


def test_require_owned_topics_names_each_foreign_field():
    alice = user("alice")
    require_owned_topics(alice, {"input_topic": "alice.in", "upper_topic": "", "x": None})
    with pytest.raises(ConflictError) as refused:
        require_owned_topics(
            alice,
            {"input_topic": "bob.in", "output_topic": "alice.out", "upper_topic": "up"},
        )
    assert refused.value.status_code == 409
    assert refused.value.message == ("'bob.in' is not yours: your topics start with 'alice.'.")
    assert refused.value.errors == {
        "input_topic": ["'bob.in' is not yours: your topics start with 'alice.'."],
        "upper_topic": ["'up' is not yours: your topics start with 'alice.'."],
    }


def test_a_field_may_name_several_topics():
    alice = user("alice")
    assert foreign_topics(alice, {"topic": {"alice.a", "alice.b"}}) == {}
    assert foreign_topics(alice, {"topic": ["alice.a", "bob.b", "bob.b", "c"]}) == {
        "topic": [
            "'bob.b' is not yours: your topics start with 'alice.'.",
            "'c' is not yours: your topics start with 'alice.'.",
        ]
    }
