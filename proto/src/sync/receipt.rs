//! Read receipts: a message of [`RECEIPT_TYPE`] tells the contact which of their messages the user
//! has read. Its body is the ids read, 32 bytes each, at least one and at most
//! [`MAX_RECEIPT_IDS`]; the receipt's own timestamp is when. It is the host's, like the timer: no
//! plugin reads it, a conversation does not show it, and it is sent only to a contact who
//! announced the type (a reader without it would show its fallback line), and only when the user
//! turned receipts on for that conversation.

use super::record::{Message, MessageId};

/// Content type of a read receipt.
pub const RECEIPT_TYPE: &str = "courier/receipt";
/// The one version of the body.
pub const RECEIPT_VERSION: u32 = 1;
/// Most ids one receipt names (16 KiB of body); more read at once go in several receipts.
pub const MAX_RECEIPT_IDS: usize = 512;
/// Bytes of each id in the body.
const ID_LEN: usize = 32;

/// Why a receipt's body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Empty, or not a whole number of ids.
    #[error("a read receipt's body must be one or more 32-byte message ids")]
    Malformed,
    /// More ids than one receipt may name.
    #[error("a read receipt names more than {MAX_RECEIPT_IDS} messages")]
    TooMany,
}

/// The receipts for `ids` read at `timestamp_ms`: one per [`MAX_RECEIPT_IDS`] ids, none for none.
pub fn receipts(ids: &[MessageId], timestamp_ms: u64) -> Vec<Message> {
    ids.chunks(MAX_RECEIPT_IDS)
        .map(|batch| Message {
            timestamp_ms,
            content_type: RECEIPT_TYPE.to_owned(),
            type_version: RECEIPT_VERSION,
            fallback: fallback(batch.len()),
            body: batch.iter().flat_map(|id| id.0).collect(),
        })
        .collect()
}

/// The line a reader without receipts sees.
fn fallback(read: usize) -> String {
    match read {
        1 => "read your message".to_owned(),
        n => format!("read {n} of your messages"),
    }
}

/// The ids a receipt's body names.
pub fn read(body: &[u8]) -> Result<Vec<MessageId>, ReceiptError> {
    let (ids, rest) = body.as_chunks::<ID_LEN>();
    if ids.is_empty() || !rest.is_empty() {
        return Err(ReceiptError::Malformed);
    }
    if ids.len() > MAX_RECEIPT_IDS {
        return Err(ReceiptError::TooMany);
    }
    Ok(ids.iter().map(|id| MessageId(*id)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_s_body_and_id_are_pinned_to_known_values() {
        // proto/vectors/known_answers.py, "# receipt": messages 07..07 and 08..08 read.
        let ids = [MessageId([7; 32]), MessageId([8; 32])];
        let [receipt] = receipts(&ids, 1_700_000_000_000).try_into().unwrap();
        assert_eq!(
            (receipt.content_type.as_str(), receipt.type_version),
            (RECEIPT_TYPE, 1)
        );
        assert_eq!(receipt.fallback, "read 2 of your messages");
        assert_eq!(
            hex::encode(&receipt.body),
            format!("{}{}", "07".repeat(32), "08".repeat(32))
        );
        assert_eq!(
            hex::encode(receipt.id().0),
            "2ae4fdbdc3ee0c264e0a7521f552c87a0e2b7a478b3359db94198a8721117c08"
        );
        assert_eq!(read(&receipt.body), Ok(ids.to_vec()));
    }

    #[test]
    fn ids_past_the_limit_go_in_another_receipt_and_one_says_so_in_the_singular() {
        let ids: Vec<MessageId> = (0..MAX_RECEIPT_IDS + 1)
            .map(|i| MessageId([(i % 251) as u8; 32]))
            .collect();
        let sent = receipts(&ids, 5);
        assert_eq!(sent.len(), 2);
        assert_eq!(read(&sent[0].body).unwrap(), ids[..MAX_RECEIPT_IDS]);
        assert_eq!(read(&sent[1].body).unwrap(), ids[MAX_RECEIPT_IDS..]);
        assert_eq!(sent[1].fallback, "read your message");
        assert_eq!(
            sent[0].fallback,
            format!("read {MAX_RECEIPT_IDS} of your messages")
        );
        assert!(receipts(&[], 5).is_empty());
    }

    #[test]
    fn an_empty_ragged_or_oversized_body_is_refused() {
        assert_eq!(read(&[]), Err(ReceiptError::Malformed));
        assert_eq!(read(&[1; 33]), Err(ReceiptError::Malformed));
        assert_eq!(read(&[1; 31]), Err(ReceiptError::Malformed));
        assert_eq!(read(&[1; 32]), Ok(vec![MessageId([1; 32])]));
        let most = vec![2; MAX_RECEIPT_IDS * 32];
        assert_eq!(read(&most).map(|ids| ids.len()), Ok(MAX_RECEIPT_IDS));
        let over = vec![2; (MAX_RECEIPT_IDS + 1) * 32];
        assert_eq!(read(&over), Err(ReceiptError::TooMany));
    }
}
