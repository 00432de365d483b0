"""The pure autonomy decision."""

from decimal import Decimal

from agents.autonomy import Reason, RunFacts, audit_draw, decide


def verdict(
    *,
    confidences=None,
    errors=None,
    error_code="",
    mode="autonomous",
    rate="0",
    threshold="0.9",
    field_thresholds=None,
    checksum="abc",
):
    confidences = confidences if confidences is not None else {"total": 0.97, "date": 0.95}
    facts = RunFacts(
        confidences=confidences,
        overall_confidence=min(confidences.values()) if confidences else None,
        validation_errors=errors or {},
        error_code=error_code,
    )
    return decide(
        facts=facts,
        mode=mode,
        threshold=Decimal(threshold),
        field_thresholds=field_thresholds or {},
        audit_sample_rate=Decimal(rate),
        process_slug="p",
        document_checksum=checksum,
    )


def test_confident_valid_run_is_accepted_in_autonomous_mode():
    v = verdict()
    assert v.accept and v.reason == "" and v.would_auto_accept
    assert v.policy.mode == "autonomous" and v.policy.threshold == "0.9"


def test_low_confidence_goes_to_review_and_names_the_weak_field():
    v = verdict(confidences={"total": 0.5, "date": 0.99})
    assert not v.accept and v.reason == Reason.LOW_CONFIDENCE and v.low_fields == ("total",)


def test_per_field_threshold_is_stricter_than_the_document_threshold():
    v = verdict(confidences={"total": 0.95, "date": 0.99}, field_thresholds={"total": "0.98"})
    assert v.reason == Reason.LOW_CONFIDENCE and v.low_fields == ("total",)


def test_failed_validation_always_goes_to_review_even_when_confident():
    v = verdict(confidences={"total": 1.0}, errors={"total": ["must be a number"]})
    assert v.reason == Reason.VALIDATION_FAILED and not v.would_auto_accept


def test_agent_error_never_auto_accepts():
    v = verdict(confidences={}, error_code="timeout")
    assert not v.accept and v.reason == Reason.AGENT_ERROR


def test_manual_and_shadow_modes_send_everything_to_review_but_record_the_would_be_decision():
    manual, shadow = verdict(mode="manual"), verdict(mode="shadow")
    assert (manual.reason, shadow.reason) == (Reason.AUTONOMY_OFF, Reason.SHADOW_MODE)
    assert not manual.accept and not shadow.accept and shadow.would_auto_accept


def test_audit_sample_rate_one_sends_every_confident_item_to_review():
    v = verdict(rate="1")
    assert not v.accept and v.reason == Reason.AUDIT_SAMPLE


def test_audit_draw_is_fixed_by_the_document_so_a_retry_cannot_change_it():
    assert audit_draw("p", "abc") == audit_draw("p", "abc")
    assert audit_draw("p", "abc") != audit_draw("p", "abd")
    draws = [audit_draw("p", str(i)) for i in range(4000)]
    share = sum(d < 0.1 for d in draws) / len(draws)
    assert 0.08 < share < 0.12  # uniform enough that the sample rate means what it says


def test_an_optional_field_left_empty_does_not_block_acceptance():
    from agents.confidence import decisive_confidences, overall_confidence
    from agents.providers.base import FieldSpec

    fields = (FieldSpec("total", "decimal"), FieldSpec("address", required=False))
    confidences = {"total": 0.97, "address": 0.02}
    assert overall_confidence(fields, {"total": "1.00", "address": None}, confidences) == 0.97
    assert decisive_confidences(fields, {"total": "1.00", "address": None}, confidences) == {"total": 0.97}
    # once the agent fills it, its confidence counts like any other
    assert overall_confidence(fields, {"total": "1.00", "address": "1 Main St"}, confidences) == 0.02


def test_a_run_with_no_confidence_at_all_is_never_accepted():
    v = verdict(confidences={}, threshold="0")
    assert not v.accept and v.reason == Reason.LOW_CONFIDENCE
