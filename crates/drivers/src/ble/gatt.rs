//! Courier's GATT service: what a central finds on a peripheral after connecting, one
//! characteristic each way.

use uuid::Uuid;

/// Courier's GATT service.
pub const SERVICE: Uuid = Uuid::from_u128(0x7a1e_0001_5c0a_4c1e_9e0f_c0c0_0a11_e7c3);
/// The characteristic a central writes its packets to.
pub const TO_PERIPHERAL: Uuid = Uuid::from_u128(0x7a1e_0002_5c0a_4c1e_9e0f_c0c0_0a11_e7c3);
/// The characteristic whose notifications carry the peripheral's packets.
pub const TO_CENTRAL: Uuid = Uuid::from_u128(0x7a1e_0003_5c0a_4c1e_9e0f_c0c0_0a11_e7c3);
