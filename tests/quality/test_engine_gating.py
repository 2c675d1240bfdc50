"""Gating: warn, revoke (final), recover. Pure."""
from quality.engine import AnnotatorPosterior, default_prior, gate, posterior_update


def run(outcomes, bar=0.75, standing="active"):
    p = default_prior(2)
    decisions = []
    for o in outcomes:
        p = posterior_update(p, o)
        d = gate(p, bar=bar, standing=standing)
        standing = d.standing
        decisions.append(d)
    return p, decisions


def test_good_annotator_stays_active():
    _, ds = run([True] * 20)
    assert all(d.standing == "active" for d in ds)
    assert not any(d.changed for d in ds)


def test_guesser_is_warned_then_revoked_and_stays_revoked():
    _, ds = run([True, False] * 10)
    standings = [d.standing for d in ds]
    assert "warned" in standings and "revoked" in standings
    assert standings.index("warned") < standings.index("revoked")
    first_revoked = standings.index("revoked")
    assert all(s == "revoked" for s in standings[first_revoked:])
    assert sum(d.changed and d.standing == "revoked" for d in ds) == 1
    assert ds[first_revoked].reason.startswith("Access revoked")


def test_no_revocation_before_minimum_checks():
    p = AnnotatorPosterior(1, 1)
    for _ in range(4):
        p = posterior_update(p, False)
    assert p.prob_below(0.75) > 0.95
    assert gate(p, bar=0.75, standing="active").standing == "warned"
    p = posterior_update(p, False)
    assert gate(p, bar=0.75, standing="warned").standing == "revoked"


def test_warned_recovers_with_hysteresis():
    p = AnnotatorPosterior(3, 1)
    for o in [False, False, True]:
        p = posterior_update(p, o)
    assert gate(p, bar=0.75, standing="active").standing == "warned"
    for _ in range(12):
        p = posterior_update(p, True)
    d = gate(p, bar=0.75, standing="warned")
    assert d.standing == "active" and d.changed


def test_reason_carries_the_numbers():
    p = posterior_update(posterior_update(default_prior(2), True), False)
    p = posterior_update(p, False)
    d = gate(p, bar=0.75, standing="active")
    assert "1 of 3" in d.reason and "75%" in d.reason and "interval" in d.reason


def test_evidence_is_withheld_only_while_accuracy_is_credibly_below_the_bar():
    from quality.engine.gating import evidence_withheld

    p = default_prior(4)
    for _ in range(4):
        p = posterior_update(p, False)
    assert not evidence_withheld(p, bar=0.625)  # too few checks to say anything
    p = posterior_update(p, False)
    assert evidence_withheld(p, bar=0.625)
    for _ in range(30):  # reversible: it is not a sanction
        p = posterior_update(p, True)
    assert not evidence_withheld(p, bar=0.625)
    good = default_prior(4)
    for ok in [True, True, False, True, True, True, True, False, True, True]:
        good = posterior_update(good, ok)
    assert not evidence_withheld(good, bar=0.625)


def test_shadow_takes_calibration_answers_but_not_those_of_checks_only_annotators():
    from quality.engine import shadow_eligible

    p = default_prior(2)
    assert shadow_eligible(p, bar=0.75)  # calibrating: everyone passes through it
    for _ in range(3):
        p = posterior_update(p, False)
    assert p.prob_below(0.75) >= 0.5 and not shadow_eligible(p, bar=0.75)
    q = default_prior(2)
    for _ in range(8):
        q = posterior_update(q, True)
    assert shadow_eligible(q, bar=0.75)
