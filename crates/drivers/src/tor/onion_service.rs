//! Onion services on the shared client: launched under a key the embedder hands over (arti's
//! keystore is in memory only, so nothing on disk holds it), their incoming streams accepted.

use std::sync::Arc;

use arti_client::DataStream;
use futures::StreamExt as _;
use safelog::DisplayRedacted as _;

use super::{Tor, TorError};

/// The onion service identity of an Ed25519 `seed`, and its `.onion` address.
pub fn onion_identity(seed: &[u8; 32]) -> (tor_hscrypto::pk::HsIdKeypair, String) {
    let keypair = tor_llcrypto::pk::ed25519::Keypair::from_bytes(seed);
    let hsid = tor_hscrypto::pk::HsIdKeypair::from(
        tor_llcrypto::pk::ed25519::ExpandedKeypair::from(&keypair),
    );
    let onion = tor_hscrypto::pk::HsIdKey::from(&hsid)
        .id()
        .display_unredacted()
        .to_string();
    (hsid, onion)
}

/// Launches an onion service under `hsid` (`nickname` tells it apart from others of the same
/// client): its handle, which stops it when dropped, and its incoming streams, each accepted.
pub fn launch(
    tor: &Tor,
    hsid: tor_hscrypto::pk::HsIdKeypair,
    nickname: &str,
) -> Result<
    (
        Arc<tor_hsservice::RunningOnionService>,
        impl futures::Stream<Item = DataStream> + Send + 'static,
    ),
    TorError,
> {
    let client = tor.client()?;
    let config = tor_hsservice::config::OnionServiceConfigBuilder::default()
        .nickname(
            nickname
                .parse()
                .map_err(|e: tor_hsservice::InvalidNickname| TorError::Service(e.to_string()))?,
        )
        .build()
        .map_err(|e| TorError::Service(e.to_string()))?;
    let launched = {
        let _entered = tor.runtime().enter();
        client
            .launch_onion_service_with_hsid(config, hsid)
            .map_err(|e| TorError::Service(e.to_string()))?
    };
    let Some((service, requests)) = launched else {
        return Err(TorError::Service("it is disabled in its config".into()));
    };
    let streams = tor_hsservice::handle_rend_requests(requests).filter_map(|request| async move {
        match request
            .accept(tor_cell::relaycell::msg::Connected::new_empty())
            .await
        {
            Ok(stream) => Some(stream),
            Err(e) => {
                tracing::debug!("an incoming onion stream failed: {e}");
                None
            }
        }
    });
    Ok((service, streams))
}
