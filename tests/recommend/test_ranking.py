"""The recommendations ranking (matchmaking/participants/recommend.py): pure functions, no
database."""

from __future__ import annotations

from matchmaking.participants.recommend import Person, Recommender, WishLink, stem, terms


def _people() -> list[Person]:
    return [
        Person(
            "p1",
            "Ann Berg",
            "o1",
            "Nordic Energy",
            delegation="EU",
            seeks=("partners for battery recycling",),
            offers=("smart grid software",),
            sectors=("Energy",),
        ),
        Person(
            "p2",
            "Bea Roy",
            "o2",
            "Recyclo",
            delegation="Canada",
            offers=("battery recycling services",),
            seeks=("smart grid software",),
            sectors=("Energy", "Mobility"),
        ),
        Person(
            "p3",
            "Cid Mora",
            "o3",
            "Iberia Batteries",
            delegation="EU",
            offers=("recycling of used batteries",),
        ),
        Person("p4", "Dan Lee", "o4", "Fromagerie", delegation="Canada", offers=("cheese",)),
        Person("p5", "Eve Nil", "o1", "Nordic Energy", delegation="EU"),
    ]


def test_stems_join_word_forms_across_the_two_sides() -> None:
    assert stem("batteries") == stem("battery")
    assert stem("recycling") == stem("recycle") == stem("recyclers")
    assert terms("Partners for Énergie services") == [stem("energie")]


def test_complementary_partner_comes_first_with_reasons_naming_both_phrases() -> None:
    ranking = Recommender(_people(), []).suggest("p1")

    assert [s.participant for s in ranking] == ["p2", "p3"]
    best = ranking[0]
    assert best.reasons[0] in (
        "offers battery recycling services, which you seek (partners for battery recycling)",
        "seeks smart grid software, which you offer",
    )
    assert (
        "offers battery recycling services, which you seek (partners for battery recycling)"
        in best.reasons
    )
    assert "seeks smart grid software, which you offer" in best.reasons
    assert "works in Energy, as you do" in best.reasons
    assert ranking[1].reasons == (
        "offers recycling of used batteries, which you seek (partners for battery recycling)",
    )
    assert 0 < ranking[1].score < best.score <= 1


def test_never_oneself_the_own_organisation_or_a_pair_with_a_wish() -> None:
    people = _people()
    # p2 wished p1's organisation (any status counts), so p1 and p2 are never suggested to
    # each other, and neither are p5 (p1's colleague) and p2.
    ranking = Recommender(people, [WishLink("p2", recipient_organisation="o1")])

    assert [s.participant for s in ranking.suggest("p1")] == ["p3"]
    assert "p2" not in [s.participant for s in ranking.suggest("p5")]
    assert all(s.participant not in ("p1", "p5") for s in ranking.suggest("p2"))
    for person in people:
        named = [s.participant for s in ranking.suggest(person.id)]
        assert person.id not in named


def test_cross_delegation_only_never_suggests_the_same_delegation() -> None:
    allowed = Recommender(_people(), []).suggest("p3")
    ruled = Recommender(_people(), [], cross_delegation_only=True).suggest("p3")

    assert "p1" in [s.participant for s in allowed]
    assert "p1" not in [s.participant for s in ruled]
    assert all(s.participant not in ("p1", "p5") for s in ruled)


def test_without_the_rule_the_other_delegation_ranks_above_an_equal_match() -> None:
    people = [
        Person("a", "A", "oa", "A", delegation="EU", seeks=("quantum sensors",)),
        Person("b", "B", "ob", "B", delegation="EU", offers=("quantum sensors",)),
        Person("c", "C", "oc", "C", delegation="Taiwan", offers=("quantum sensors",)),
    ]
    ranking = Recommender(people, []).suggest("a")

    assert [s.participant for s in ranking] == ["c", "b"]


def test_the_wishes_of_alike_senders_suggest_partners_with_a_reason_naming_them() -> None:
    people = [Person(f"p{i}", f"Person {i}", f"o{i}", f"Org {i}") for i in range(1, 7)]
    wishes = [
        # p2 and p3 wished both o4 and o5; p1 wished o4 only, so o5 is suggested to p1.
        WishLink("p2", recipient="p4"),
        WishLink("p2", recipient="p5"),
        WishLink("p3", recipient="p4"),
        WishLink("p3", recipient="p5"),
        WishLink("p1", recipient="p4"),
        WishLink("p6", recipient="p2"),
    ]
    ranking = Recommender(people, wishes).suggest("p1")

    assert [s.participant for s in ranking] == ["p5"]
    assert ranking[0].reasons == (
        "2 participants who asked to meet Org 4, as you did, also asked to meet Org 5",
    )


def test_every_suggestion_has_a_reason_and_no_reason_means_no_suggestion() -> None:
    people = [*_people(), Person("p9", "Zed", "o9", "Nothing in common")]
    ranking = Recommender(people, [])

    for person in people:
        for suggestion in ranking.suggest(person.id):
            assert suggestion.reasons
    assert ranking.suggest("p9") == []
    assert "p9" not in [s.participant for s in ranking.suggest("p1")]


def test_unlisted_people_are_never_suggested_but_get_suggestions() -> None:
    people = [p if p.id != "p2" else _unlisted(p) for p in _people()]
    ranking = Recommender(people, [])

    assert "p2" not in [s.participant for s in ranking.suggest("p1")]
    assert [s.participant for s in ranking.suggest("p2")][:1] == ["p1"]


def _unlisted(person: Person) -> Person:
    from dataclasses import replace

    return replace(person, suggestable=False)


def test_top_limits_and_the_order_is_deterministic() -> None:
    people = [Person("me", "Me", "om", "Mine", seeks=("wind turbine blades",))] + [
        Person(f"q{i}", f"Q{i}", f"o{i}", f"Org {i}", offers=("wind turbine blades",))
        for i in range(12)
    ]
    wishes = [WishLink("q1", recipient="q7"), WishLink("q2", recipient="q7")]
    ranking = Recommender(people, wishes)

    top = ranking.suggest("me", top=3)
    assert len(top) == 3
    # Equal scores: the more wished-for (q7) first, then by id.
    assert [s.participant for s in top] == ["q7", "q0", "q1"]
    assert ranking.suggest("me", top=3) == top
    assert ranking.suggest_all(top=3)["me"] == top
    assert ranking.suggest("nobody") == []


def test_the_wishes_of_those_who_seek_the_same_suggest_partners_words_cannot_find() -> None:
    # "accumulator" shares no word with "battery"; those who seek what Ann seeks found it.
    people = [
        Person("ann", "Ann", "oa", "Nordic", seeks=("partners for battery recycling",)),
        Person("bob", "Bob", "ob", "Baltic", seeks=("battery recycling partners",)),
        Person("cat", "Cat", "oc", "Celtic", seeks=("recycling of batteries",)),
        Person("dan", "Dan", "od", "Accu Co", offers=("accumulator reprocessing",)),
        Person("eve", "Eve", "oa", "Nordic"),
    ]
    wishes = [WishLink("bob", recipient="dan"), WishLink("cat", recipient_organisation="od")]
    ranking = Recommender(people, wishes)

    suggestions = ranking.suggest("ann")

    assert [s.participant for s in suggestions][:1] == ["dan"]
    assert suggestions[0].reasons[0] == (
        "2 participants who seek what you seek asked to meet Accu Co"
    )
    # Eve's organisation is Ann's: Ann's own wishes reach Eve as a colleague's.
    ann_wished = Recommender(people, [WishLink("ann", recipient="dan")])
    assert ann_wished.suggest("eve")[0].reasons == ("a colleague of yours asked to meet Accu Co",)


def test_a_suggestion_is_one_person_and_an_organisation_met_already_goes_last() -> None:
    # Three equal offerers: one alone, one of two representatives, one of three. A wish
    # names one representative, so each of a pair is worth half, each of a trio a third.
    people = [Person("me", "Me", "om", "Mine", seeks=("wind turbine blades",))]
    for org, count in (("solo", 1), ("duo", 2), ("trio", 3)):
        people += [
            Person(f"{org}{i}", f"{org} {i}", org, org.title(), offers=("wind turbine blades",))
            for i in range(count)
        ]
    ranking = Recommender(people, [])
    order = [s.participant for s in ranking.suggest("me")]
    assert order == ["solo0", "duo0", "duo1", "trio0", "trio1", "trio2"]
    scores = [s.score for s in ranking.suggest("me")]
    assert scores[0] > scores[1] > scores[3]

    # Once "me" asked to meet one of the pair, the other one comes after everyone else: the
    # organisation is met already (and so when the pair's member asked "me").
    for wish in (WishLink("me", recipient="duo0"), WishLink("duo0", recipient="me")):
        after = [s.participant for s in Recommender(people, [wish]).suggest("me")]
        assert after == ["solo0", "trio0", "trio1", "trio2", "duo1"]


def test_all_suggestions_are_the_same_from_two_processes() -> None:
    people = _people() + [
        Person(f"x{i}", f"X{i}", f"ox{i % 4}", f"Org {i % 4}", offers=("battery recycling",))
        for i in range(9)
    ]
    ranking = Recommender(people, [WishLink("x1", recipient="p2")])
    assert ranking.suggest_all(5, workers=2) == ranking.suggest_all(5)
