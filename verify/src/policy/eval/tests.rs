//! Unit tests of the evaluation's signer matching.

use super::match_signers;

fn v(x: &[&str]) -> Vec<String> {
    x.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn distinct_signers_are_matched() {
    // The same key twice counts once.
    let m = match_signers(&[v(&["k1"]), v(&["k1"])]);
    assert_eq!(m.iter().flatten().count(), 1);
    // An identity matched by two authorities, and another only by the first: both count.
    let m = match_signers(&[v(&["id1", "id2"]), v(&["id1"])]);
    assert_eq!(m, vec![Some("id2".to_owned()), Some("id1".to_owned())]);
    // Nothing verified.
    assert_eq!(
        match_signers(&[vec![], v(&["k"])]),
        vec![None, Some("k".to_owned())]
    );
}
