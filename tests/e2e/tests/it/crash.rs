//! A node killed mid-exchange loses and duplicates nothing.

use std::time::Duration;

use courier_e2e::{assert_received_once_in_order, wait_for_delivery, wait_until};

use crate::{pair, scratch};

#[test]
fn bob_is_killed_in_the_middle_of_a_thousand_message_exchange_and_nothing_is_lost_or_doubled() {
    let root = scratch();
    let (alice, mut bob) = pair(root.path()).unwrap();
    let to_bob: Vec<String> = (0..1000).map(|i| format!("to bob {i:04}")).collect();
    let to_alice: Vec<String> = (0..1000).map(|i| format!("to alice {i:04}")).collect();
    bob.queue_texts("alice", &to_alice).unwrap();
    std::thread::scope(|s| {
        // Alice keeps writing while bob's node dies under her: the kill lands mid-exchange. She
        // writes in batches, as sends by hand would come, so the exchange outlasts the kill's own
        // latency (all 1,000 at once could all arrive before it).
        let writer = s.spawn(|| -> anyhow::Result<()> {
            for batch in to_bob.chunks(50) {
                alice.queue_texts("bob", batch)?;
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        });
        wait_until(
            Duration::from_secs(60),
            "bob has some of alice's messages",
            || Ok(!bob.arrivals("alice")?.is_empty()),
        )
        .unwrap();
        bob.kill().unwrap();
        let arrived = bob.arrivals("alice").unwrap().len();
        assert!(
            arrived < 1000,
            "the kill came mid-exchange ({arrived} arrived)"
        );
        writer.join().unwrap().unwrap();
    });

    bob.serve().unwrap();
    wait_for_delivery(&alice, &bob, 1000, Duration::from_secs(120)).unwrap();
    wait_for_delivery(&bob, &alice, 1000, Duration::from_secs(120)).unwrap();
    assert_received_once_in_order(&bob, "alice", &to_bob).unwrap();
    assert_received_once_in_order(&alice, "bob", &to_alice).unwrap();
}
