//! Data-dictionary validation of required fields inside repeating groups, end to end: the session
//! answers a NewOrderList whose NoOrders entry lacks a required field with Reject 35=3,
//! SessionRejectReason(373)=1 "Required tag missing" and RefTagID(371) = the missing tag, consumes
//! its number and does not deliver it.

mod common;

use std::sync::Arc;

use common::*;
use fixsession::dict::DataDictionary;

fn with_dictionary() -> Harness {
    let mut cfg = default_config();
    cfg.dictionary = Some(Arc::new(DataDictionary::fix44()));
    let mut h = Harness::new(cfg);
    h.run("connect\nrecv 35=A 34=1 108=30\nexpect send 35=A\ndrain");
    h
}

#[test]
fn should_reject_a_group_entry_missing_a_required_field() {
    let mut h = with_dictionary();
    h.run(
        "recv 35=E 34=2 66=L1 394=1 68=2 73=2 11=a 67=1 54=1 11=b 67=2
         expect send 35=3 45=2 371=54 372=E 373=1 58=Required\\stag\\smissing
         expect nodeliver
         expect target 3",
    );
}

#[test]
fn should_deliver_a_group_with_every_required_field() {
    let mut h = with_dictionary();
    h.run(
        "recv 35=E 34=2 66=L1 394=1 68=2 73=2 11=a 67=1 54=1 11=b 67=2 54=2
         expect nosend
         expect deliver 34=2 73=2
         expect target 3",
    );
}
