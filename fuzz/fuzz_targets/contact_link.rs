//! Any text as a contact link: a clear error or a link that prints back to itself.
#![no_main]

use courier_proto::contact_link::ContactLink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(link) = text.parse::<ContactLink>()
    {
        assert_eq!(link.to_string().parse::<ContactLink>(), Ok(link));
    }
});
