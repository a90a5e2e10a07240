//! Any bytes as sync records: errors, never a panic; whatever decodes re-encodes to the same records.
#![no_main]

use courier_proto::sync::record::RecordReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = RecordReader::new().push(data) {
        let mut wire = Vec::new();
        records.iter().for_each(|r| r.encode(&mut wire));
        assert_eq!(RecordReader::new().push(&wire).unwrap(), records);
    }
});
