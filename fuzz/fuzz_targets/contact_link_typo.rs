//! Any key as a link, then one character changed: the link prints back to its key (or is refused for a
//! weak key), and the changed copy is always refused as mistyped, at the right position.
#![no_main]

use courier_proto::contact_link::{ContactLink, ENCODED_LEN, LinkError, SCHEME};
use libfuzzer_sys::fuzz_target;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fuzz_target!(|data: &[u8]| {
    let Some((key, rest)) = data.split_first_chunk::<32>() else {
        return;
    };
    let link = ContactLink::new(*key);
    let text = link.to_string();
    match text.parse::<ContactLink>() {
        Ok(parsed) => assert_eq!(parsed, link),
        Err(error) => assert_eq!(error, LinkError::InvalidKey),
    }
    let [position, replacement, ..] = *rest else {
        return;
    };
    let position = usize::from(position) % ENCODED_LEN;
    let replacement = ALPHABET[usize::from(replacement) % ALPHABET.len()];
    let mut typo = text.into_bytes();
    if typo[SCHEME.len() + position] == replacement {
        return;
    }
    typo[SCHEME.len() + position] = replacement;
    let typo = String::from_utf8(typo).expect("base32 is ASCII");
    assert_eq!(
        typo.parse::<ContactLink>(),
        Err(LinkError::Mistyped {
            position: Some(position + 1)
        })
    );
});
