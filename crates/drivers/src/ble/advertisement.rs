//! What a Courier device advertises over BLE: the node's rotating per-contact tags, a few at a time,
//! as manufacturer-specific data, within a legacy advertising payload (31 bytes), under a random
//! address that changes with the tags.
//!
//! A scanner who is not a contact sees the same company id on every Courier device (it reveals
//! presence, as the transport declares), a random address and tags that change at every key
//! rotation: nothing that follows one device from one period to the next. Random filler tags make
//! every advertisement full and the number of advertisements a power of two, so what a scanner
//! can count is the number of contacts rounded up to 2, 4, 8, 16, … (said in the README).

use data_encoding::BASE32_NOPAD;

/// The company id the tags go under: 0xFFFF, which the Bluetooth SIG reserves for tests and
/// internal use (no company's id names Courier).
pub const COMPANY_ID: u16 = 0xFFFF;
/// Bytes of one tag on the air (the node's rendezvous tags are 10 bytes, written in base32).
pub const TAG_BYTES: usize = 10;
/// A legacy advertising payload's size.
pub const LEGACY_PAYLOAD: usize = 31;
/// The flags structure (3 bytes) and the manufacturer data's header (length, type, company id).
const OVERHEAD: usize = 3 + 4;
/// Tags one legacy advertisement carries.
pub const TAGS_PER_ADVERTISEMENT: usize = (LEGACY_PAYLOAD - OVERHEAD) / TAG_BYTES;

/// A tag as it goes on the air, from the node's written form; `None` for one that is not ours.
pub fn tag_bytes(tag: &str) -> Option<[u8; TAG_BYTES]> {
    let bytes = BASE32_NOPAD
        .decode(tag.to_ascii_uppercase().as_bytes())
        .ok()?;
    bytes.try_into().ok()
}

/// A tag as the node writes it, from the air.
pub fn tag_text(bytes: &[u8; TAG_BYTES]) -> String {
    BASE32_NOPAD.encode(bytes).to_ascii_lowercase()
}

/// The manufacturer data of each advertisement, in turn: `tags` a few at a time, filled out with
/// random tags. A device with more contacts than one advertisement holds shows each group in turn.
pub fn rotation(tags: &[String]) -> Vec<Vec<u8>> {
    let mut tags: Vec<[u8; TAG_BYTES]> = tags.iter().filter_map(|t| tag_bytes(t)).collect();
    if tags.is_empty() {
        return Vec::new();
    }
    let adverts = tags
        .len()
        .div_ceil(TAGS_PER_ADVERTISEMENT)
        .next_power_of_two();
    tags.resize_with(adverts * TAGS_PER_ADVERTISEMENT, || {
        let mut filler = [0; TAG_BYTES];
        getrandom::fill(&mut filler).expect("the OS random number generator is available");
        filler
    });
    tags.chunks(TAGS_PER_ADVERTISEMENT)
        .map(|group| group.concat())
        .collect()
}

/// The tags in one advertisement's manufacturer data; trailing bytes that are no whole tag are
/// ignored (another device's data under the same id).
pub fn tags_in(data: &[u8]) -> Vec<String> {
    data.chunks_exact(TAG_BYTES)
        .map(|t| tag_text(t.try_into().expect("chunks of TAG_BYTES")))
        .collect()
}

/// The length of the legacy payload that carries `data` as manufacturer data.
pub fn payload_len(data: &[u8]) -> usize {
    OVERHEAD + data.len()
}

/// A random static address (`AA:BB:CC:DD:EE:FF`, the two top bits set, as the core spec asks of a
/// random static address), new for every set of tags.
pub fn random_address() -> String {
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes[0] |= 0xC0;
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(i: u8) -> String {
        tag_text(&[i; TAG_BYTES])
    }

    #[test]
    fn tags_go_two_to_a_legacy_advertisement_and_come_back_as_written() {
        assert_eq!(TAGS_PER_ADVERTISEMENT, 2);
        let tags: Vec<String> = (1..=5).map(tag).collect();
        let adverts = rotation(&tags);
        assert_eq!(adverts.len(), 4, "five tags, three fillers");
        assert!(adverts.iter().all(|a| payload_len(a) <= LEGACY_PAYLOAD));
        assert!(
            adverts
                .iter()
                .all(|a| a.len() == TAGS_PER_ADVERTISEMENT * TAG_BYTES)
        );
        let back: Vec<String> = adverts.iter().flat_map(|a| tags_in(a)).collect();
        assert_eq!(back[..5], tags);
        assert!(back[5..].iter().all(|filler| !tags.contains(filler)));
        assert_eq!(
            tags_in(&[7; TAG_BYTES + 3]),
            [tag(7)],
            "a partial tag is no tag"
        );
    }

    #[test]
    fn a_tag_not_of_the_node_s_shape_is_not_advertised() {
        assert_eq!(tag_bytes("not base32!"), None);
        assert_eq!(
            tag_bytes(&BASE32_NOPAD.encode(&[1; 12]).to_ascii_lowercase()),
            None
        );
        let adverts = rotation(&["x".into(), tag(3)]);
        assert_eq!(adverts.len(), 1);
        assert_eq!(tags_in(&adverts[0])[0], tag(3));
        assert!(rotation(&["x".into()]).is_empty(), "nothing to advertise");
    }

    #[test]
    fn a_scanner_counts_contacts_only_to_the_next_power_of_two_and_sees_full_advertisements() {
        let shape = |contacts: u8| {
            let adverts = rotation(&(0..contacts).map(tag).collect::<Vec<_>>());
            (
                adverts.len(),
                adverts.iter().map(Vec::len).collect::<Vec<_>>(),
            )
        };
        let full = TAGS_PER_ADVERTISEMENT * TAG_BYTES;
        assert_eq!(shape(1), shape(2), "one contact looks like two");
        assert_eq!(shape(1), (1, vec![full]));
        assert_eq!(shape(3), shape(4));
        assert_eq!(shape(5), shape(8));
        assert_eq!(shape(5), (4, vec![full; 4]));
        assert_eq!(shape(9).0, 8);
        // Fillers are new each time: nothing in them stays from one rotation to the next.
        let (a, b) = (rotation(&[tag(1)]), rotation(&[tag(1)]));
        assert_ne!(a[0][TAG_BYTES..], b[0][TAG_BYTES..]);
    }

    #[test]
    fn every_address_is_a_new_random_static_one() {
        let (a, b) = (random_address(), random_address());
        assert_ne!(a, b);
        assert_eq!(a.len(), 17);
        assert!(u8::from_str_radix(&a[..2], 16).unwrap() >= 0xC0);
    }
}
