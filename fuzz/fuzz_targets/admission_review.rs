//! `vouch serve`'s readers of what the API server sends: AdmissionReview and ImageReview. They
//! never panic; every image found has a JSON pointer that leads to exactly that string.
#![no_main]
use libfuzzer_sys::fuzz_target;
use vouch_verify::admission::{imagepolicy, review};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = review::parse(data) {
        let doc: serde_json::Value = serde_json::from_slice(data).expect("parsed once");
        let object = &doc["request"]["object"];
        assert!(r.images.len() <= review::MAX_IMAGES);
        for slot in &r.images {
            assert_eq!(object.pointer(&slot.pointer).and_then(|v| v.as_str()), Some(slot.image.as_str()));
        }
        let _ = review::response(&r.uid, &review::Answer::default());
    }
    let _ = review::uid_of(data);
    let _ = imagepolicy::parse(data);
});
