//! Unit tests of `cluster::outcome`.

use super::*;
use crate::{DeliveryError, ProviderError, Receipt, Stage};

fn failed(retryable: bool, message: &str) -> Outcome {
    let mut provider = ProviderError::new("whatsapp", 503, message);
    provider.code = Some("131000".into());
    Outcome::Failed {
        failure: Failure::from_delivery(
            Stage::Deliver,
            DeliveryError::Provider(Box::new(provider)),
        ),
        retryable,
        attempts: 3,
    }
}

#[test]
fn finished_outcomes_complete_the_job() {
    for outcome in [
        Outcome::Delivered {
            receipt: Receipt::new(200),
            attempts: 1,
        },
        Outcome::Skipped {
            reason: "condition not met".into(),
        },
        Outcome::Duplicate {
            reason: "already delivered".into(),
            receipt: Some(Receipt::new(200)),
        },
        failed(false, "bad number"),
    ] {
        assert!(step_result(Some(&outcome)).is_ok(), "{outcome:?}");
    }
}

#[test]
fn retryable_failures_and_deliveries_in_flight_fail_the_job() {
    let in_flight = Outcome::Duplicate {
        reason: "being delivered by another attempt".into(),
        receipt: None,
    };
    let error = step_result(Some(&in_flight)).unwrap_err();
    assert!(error.message().contains("another attempt"));
    let error = step_result(Some(&failed(true, "busy"))).unwrap_err();
    assert!(error
        .message()
        .contains("stage deliver, status 503, code 131000"));
    assert!(step_result(None).is_err());
}

#[test]
fn job_errors_carry_no_record_data() {
    // The provider quotes the record back; none of it reaches graphile_worker.
    let outcome = failed(
        true,
        "recipient +55 11 99999-0001 (Maria) is not on WhatsApp",
    );
    let error = step_result(Some(&outcome)).unwrap_err();
    assert!(!error.message().contains("Maria"), "{}", error.message());
    assert!(!error.message().contains("99999"), "{}", error.message());
    // graphile_worker stores `Debug`: the bare text, no quotes or escapes.
    assert_eq!(format!("{error:?}"), error.message());
    assert!(!format!("{error:?}").starts_with('"'));
}

#[test]
fn odd_provider_codes_are_left_out() {
    let mut provider = ProviderError::new("x", 400, "m");
    provider.code = Some("call +5511999990001 now".into());
    let failure =
        Failure::from_delivery(Stage::Deliver, DeliveryError::Provider(Box::new(provider)));
    assert_eq!(describe(&failure), "stage deliver, status 400");
}
