//! SNMPv3 User-based Security Model (RFC 3414, RFC 3826, RFC 7860): password-to-key,
//! key localisation, message authentication, privacy, and the timeliness checks.
//!
//! Keys are derived from passwords once, at configuration load (`Ku`, a hash over a megabyte
//! of repeated password), and localised per authoritative engine ID when an engine is first
//! seen; the localised keys are cached, so users never configure engine IDs.

use aes::{Aes128, Aes192, Aes256};
use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, KeyInit, KeyIvInit};
use digest::Digest;
use hmac::{Mac, SimpleHmac};
use std::collections::HashMap;
use std::sync::Arc;

/// An authentication protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProto {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha1,
    /// HMAC-SHA-224 truncated to 128 bits (RFC 7860).
    Sha224,
    /// HMAC-SHA-256 truncated to 192 bits.
    Sha256,
    /// HMAC-SHA-384 truncated to 256 bits.
    Sha384,
    /// HMAC-SHA-512 truncated to 384 bits.
    Sha512,
}

/// A privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProto {
    /// CBC-DES (RFC 3414 section 8).
    Des,
    /// CFB128-AES-128 (RFC 3826).
    Aes128,
    /// CFB128-AES-192 with net-snmp's (Blumenthal) key extension.
    Aes192,
    /// CFB128-AES-256 with net-snmp's (Blumenthal) key extension.
    Aes256,
    /// CFB128-AES-192 with Cisco's (Reeder) key extension: net-snmp's `AES-192-C`.
    Aes192C,
    /// CFB128-AES-256 with Cisco's (Reeder) key extension: net-snmp's `AES-256-C`.
    Aes256C,
}

impl AuthProto {
    /// Reads a protocol name as net-snmp spells it (`MD5`, `SHA`, `SHA-224` … case-insensitive).
    pub fn parse(name: &str) -> Option<AuthProto> {
        Some(
            match name.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
                "MD5" => AuthProto::Md5,
                "SHA" | "SHA1" => AuthProto::Sha1,
                "SHA224" => AuthProto::Sha224,
                "SHA256" => AuthProto::Sha256,
                "SHA384" => AuthProto::Sha384,
                "SHA512" => AuthProto::Sha512,
                _ => return None,
            },
        )
    }

    /// The name, as net-snmp's `-a` option takes it.
    pub fn name(self) -> &'static str {
        match self {
            AuthProto::Md5 => "MD5",
            AuthProto::Sha1 => "SHA",
            AuthProto::Sha224 => "SHA-224",
            AuthProto::Sha256 => "SHA-256",
            AuthProto::Sha384 => "SHA-384",
            AuthProto::Sha512 => "SHA-512",
        }
    }

    /// Length of `msgAuthenticationParameters`.
    pub fn mac_len(self) -> usize {
        match self {
            AuthProto::Md5 | AuthProto::Sha1 => 12,
            AuthProto::Sha224 => 16,
            AuthProto::Sha256 => 24,
            AuthProto::Sha384 => 32,
            AuthProto::Sha512 => 48,
        }
    }

    fn hash(self, parts: &[&[u8]]) -> Vec<u8> {
        fn h<D: Digest>(parts: &[&[u8]]) -> Vec<u8> {
            let mut d = D::new();
            for p in parts {
                d.update(p);
            }
            d.finalize().to_vec()
        }
        match self {
            AuthProto::Md5 => h::<md5::Md5>(parts),
            AuthProto::Sha1 => h::<sha1::Sha1>(parts),
            AuthProto::Sha224 => h::<sha2::Sha224>(parts),
            AuthProto::Sha256 => h::<sha2::Sha256>(parts),
            AuthProto::Sha384 => h::<sha2::Sha384>(parts),
            AuthProto::Sha512 => h::<sha2::Sha512>(parts),
        }
    }

    /// RFC 3414 A.2: the hash of the password repeated over 1,048,576 bytes (`Ku`).
    pub fn password_to_key(self, password: &[u8]) -> Vec<u8> {
        fn h<D: Digest>(password: &[u8]) -> Vec<u8> {
            let mut d = D::new();
            let mut chunk = [0u8; 64];
            let mut at = 0usize;
            for _ in 0..(1_048_576 / 64) {
                for b in chunk.iter_mut() {
                    *b = password
                        .get(at % password.len().max(1))
                        .copied()
                        .unwrap_or(0);
                    at += 1;
                }
                d.update(chunk);
            }
            d.finalize().to_vec()
        }
        match self {
            AuthProto::Md5 => h::<md5::Md5>(password),
            AuthProto::Sha1 => h::<sha1::Sha1>(password),
            AuthProto::Sha224 => h::<sha2::Sha224>(password),
            AuthProto::Sha256 => h::<sha2::Sha256>(password),
            AuthProto::Sha384 => h::<sha2::Sha384>(password),
            AuthProto::Sha512 => h::<sha2::Sha512>(password),
        }
    }

    /// RFC 3414 A.2.2: `Kul = H(Ku ‖ engineID ‖ Ku)`.
    pub fn localize(self, ku: &[u8], engine_id: &[u8]) -> Vec<u8> {
        self.hash(&[ku, engine_id, ku])
    }

    /// The full HMAC of `msg` under `key` (callers truncate to [`AuthProto::mac_len`]).
    pub fn hmac(self, key: &[u8], msg: &[u8]) -> Vec<u8> {
        fn m<D: Digest + digest::block_api::BlockSizeUser>(key: &[u8], msg: &[u8]) -> Vec<u8> {
            match <SimpleHmac<D> as KeyInit>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(msg);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            AuthProto::Md5 => m::<md5::Md5>(key, msg),
            AuthProto::Sha1 => m::<sha1::Sha1>(key, msg),
            AuthProto::Sha224 => m::<sha2::Sha224>(key, msg),
            AuthProto::Sha256 => m::<sha2::Sha256>(key, msg),
            AuthProto::Sha384 => m::<sha2::Sha384>(key, msg),
            AuthProto::Sha512 => m::<sha2::Sha512>(key, msg),
        }
    }
}

impl PrivProto {
    /// Reads a protocol name as net-snmp spells it (`DES`, `AES`, `AES-128`, `AES-192`,
    /// `AES-256`, and Cisco's `AES-192-C`, `AES-256-C`; case-insensitive).
    pub fn parse(name: &str) -> Option<PrivProto> {
        Some(
            match name.to_ascii_uppercase().replace(['-', '_'], "").as_str() {
                "DES" => PrivProto::Des,
                "AES" | "AES128" => PrivProto::Aes128,
                "AES192" => PrivProto::Aes192,
                "AES256" => PrivProto::Aes256,
                "AES192C" => PrivProto::Aes192C,
                "AES256C" => PrivProto::Aes256C,
                _ => return None,
            },
        )
    }

    /// The name, as net-snmp's `-x` option takes it.
    pub fn name(self) -> &'static str {
        match self {
            PrivProto::Des => "DES",
            PrivProto::Aes128 => "AES",
            PrivProto::Aes192 => "AES-192",
            PrivProto::Aes256 => "AES-256",
            PrivProto::Aes192C => "AES-192-C",
            PrivProto::Aes256C => "AES-256-C",
        }
    }

    /// Bytes of localised key the cipher needs (DES: key and pre-IV).
    fn key_len(self) -> usize {
        match self {
            PrivProto::Des | PrivProto::Aes128 => 16,
            PrivProto::Aes192 | PrivProto::Aes192C => 24,
            PrivProto::Aes256 | PrivProto::Aes256C => 32,
        }
    }

    /// The AES cipher the protocol runs (the `-C` variants differ only in key extension).
    fn cipher(self) -> PrivProto {
        match self {
            PrivProto::Aes192C => PrivProto::Aes192,
            PrivProto::Aes256C => PrivProto::Aes256,
            p => p,
        }
    }
}

/// A configured USM user with its password-derived keys.
#[derive(Clone)]
pub struct User {
    /// `msgUserName`.
    pub name: String,
    /// Authentication protocol and `Ku` of the authentication password.
    pub auth: Option<(AuthProto, Vec<u8>)>,
    /// Privacy protocol and `Ku` of the privacy password (derived with the auth hash).
    pub privacy: Option<(PrivProto, Vec<u8>)>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("auth", &self.auth.as_ref().map(|a| a.0))
            .field("privacy", &self.privacy.as_ref().map(|p| p.0))
            .finish()
    }
}

impl User {
    /// Derives the keys (a few milliseconds per password).
    pub fn new(
        name: &str,
        auth: Option<(AuthProto, &str)>,
        privacy: Option<(PrivProto, &str)>,
    ) -> User {
        let auth_proto = auth.map(|a| a.0);
        User {
            name: name.to_owned(),
            auth: auth.map(|(p, pass)| (p, p.password_to_key(pass.as_bytes()))),
            privacy: match (auth_proto, privacy) {
                (Some(h), Some((p, pass))) => Some((p, h.password_to_key(pass.as_bytes()))),
                _ => None,
            },
        }
    }

    /// The keys localised to `engine_id`.
    pub fn localize(&self, engine_id: &[u8]) -> LocalKeys {
        let auth = self
            .auth
            .as_ref()
            .map(|(p, ku)| (*p, p.localize(ku, engine_id)));
        let privacy = match (&self.auth, &self.privacy) {
            (Some((h, _)), Some((p, ku))) => {
                let mut k = h.localize(ku, engine_id);
                if matches!(p, PrivProto::Aes192C | PrivProto::Aes256C) {
                    // Reeder key extension (Cisco; net-snmp's AES-192-C/256-C): append the
                    // last piece localised again as if it were a password.
                    let mut piece = k.clone();
                    while k.len() < p.key_len() {
                        piece = h.localize(&h.password_to_key(&piece), engine_id);
                        k.extend_from_slice(&piece);
                    }
                } else {
                    // Blumenthal key extension (net-snmp's AES-192/256): append H(key so far).
                    while k.len() < p.key_len() {
                        let more = h.hash(&[&k]);
                        k.extend_from_slice(&more);
                    }
                }
                Some((*p, k))
            }
            _ => None,
        };
        LocalKeys { auth, privacy }
    }
}

/// Keys localised to one engine.
#[derive(Debug, Clone)]
pub struct LocalKeys {
    /// Authentication protocol and key.
    pub auth: Option<(AuthProto, Vec<u8>)>,
    /// Privacy protocol and key.
    pub privacy: Option<(PrivProto, Vec<u8>)>,
}

/// Localised keys by (user, engine ID), computed on first use.
#[derive(Default)]
pub struct KeyCache {
    map: HashMap<(usize, Vec<u8>), Arc<LocalKeys>>,
}

/// Engines remembered before the cache starts over (bounded memory with many senders).
const KEY_CACHE_MAX: usize = 65_536;

impl KeyCache {
    /// The keys of `users[user]` for `engine_id`.
    pub fn get(&mut self, users: &[User], user: usize, engine_id: &[u8]) -> Option<Arc<LocalKeys>> {
        if let Some(k) = self.map.get(&(user, engine_id.to_vec())) {
            return Some(k.clone());
        }
        let keys = Arc::new(users.get(user)?.localize(engine_id));
        if self.map.len() >= KEY_CACHE_MAX {
            self.map.clear();
        }
        self.map.insert((user, engine_id.to_vec()), keys.clone());
        Some(keys)
    }

    /// Engines × users cached.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Checks `msgAuthenticationParameters` of `whole` (the datagram as received), whose
/// parameter bytes are `params`: the HMAC of the message with those bytes zeroed.
pub fn verify(proto: AuthProto, key: &[u8], whole: &[u8], params: &[u8]) -> bool {
    if params.len() != proto.mac_len() {
        return false;
    }
    let Some(at) = find_params(whole, params) else {
        return false;
    };
    let mut copy = whole.to_vec();
    if let Some(slot) = copy.get_mut(at..at + params.len()) {
        slot.fill(0);
    }
    let mac = proto.hmac(key, &copy);
    let Some(expected) = mac.get(..params.len()) else {
        return false;
    };
    // Constant time: the comparison does not stop at the first differing byte.
    expected
        .iter()
        .zip(params)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Signs `whole` in place: its authentication parameters are `mac_len` zero bytes at `at`.
pub fn sign(proto: AuthProto, key: &[u8], whole: &mut [u8], at: usize) {
    let mac = proto.hmac(key, whole);
    if let (Some(slot), Some(m)) = (
        whole.get_mut(at..at + proto.mac_len()),
        mac.get(..proto.mac_len()),
    ) {
        slot.copy_from_slice(m);
    }
}

/// The offset of the authentication parameters inside the message: the OCTET STRING
/// `04 len params` (the parameters are a MAC, random enough to occur once).
pub fn find_params(whole: &[u8], params: &[u8]) -> Option<usize> {
    let len = u8::try_from(params.len()).ok()?;
    whole
        .windows(params.len() + 2)
        .position(|w| {
            w.first() == Some(&0x04) && w.get(1) == Some(&len) && w.get(2..) == Some(params)
        })
        .map(|p| p + 2)
}

/// Why a privacy operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoError;

/// Decrypts `data` in place (RFC 3414 8.1.1.3 for DES, RFC 3826 3.1.4 for AES).
pub fn decrypt(
    proto: PrivProto,
    key: &[u8],
    boots: u32,
    time: u32,
    salt: &[u8],
    data: &mut [u8],
) -> Result<(), CryptoError> {
    if salt.len() != 8 {
        return Err(CryptoError);
    }
    match proto {
        PrivProto::Des => {
            let (k, pre_iv) = (
                key.get(..8).ok_or(CryptoError)?,
                key.get(8..16).ok_or(CryptoError)?,
            );
            if data.len() % 8 != 0 {
                return Err(CryptoError);
            }
            let des = des::Des::new_from_slice(k).map_err(|_| CryptoError)?;
            let mut prev = [0u8; 8];
            for (p, (a, b)) in prev.iter_mut().zip(pre_iv.iter().zip(salt)) {
                *p = a ^ b;
            }
            for block in data.chunks_exact_mut(8) {
                let mut c = [0u8; 8];
                c.copy_from_slice(block);
                let b: &mut cipher::Block<des::Des> = block.try_into().map_err(|_| CryptoError)?;
                des.decrypt_block(b);
                for (x, p) in block.iter_mut().zip(prev) {
                    *x ^= p;
                }
                prev = c;
            }
            Ok(())
        }
        PrivProto::Aes128
        | PrivProto::Aes192
        | PrivProto::Aes256
        | PrivProto::Aes192C
        | PrivProto::Aes256C => {
            let iv = aes_iv(boots, time, salt);
            let k = key.get(..proto.key_len()).ok_or(CryptoError)?;
            match proto.cipher() {
                PrivProto::Aes128 => cfb_mode::Decryptor::<Aes128>::new_from_slices(k, &iv)
                    .map_err(|_| CryptoError)?
                    .decrypt(data),
                PrivProto::Aes192 => cfb_mode::Decryptor::<Aes192>::new_from_slices(k, &iv)
                    .map_err(|_| CryptoError)?
                    .decrypt(data),
                _ => cfb_mode::Decryptor::<Aes256>::new_from_slices(k, &iv)
                    .map_err(|_| CryptoError)?
                    .decrypt(data),
            }
            Ok(())
        }
    }
}

/// Encrypts `data` (padded here for DES), returning the ciphertext.
pub fn encrypt(
    proto: PrivProto,
    key: &[u8],
    boots: u32,
    time: u32,
    salt: &[u8; 8],
    mut data: Vec<u8>,
) -> Result<Vec<u8>, CryptoError> {
    match proto {
        PrivProto::Des => {
            let (k, pre_iv) = (
                key.get(..8).ok_or(CryptoError)?,
                key.get(8..16).ok_or(CryptoError)?,
            );
            let des = des::Des::new_from_slice(k).map_err(|_| CryptoError)?;
            while data.len() % 8 != 0 {
                data.push(0);
            }
            let mut prev = [0u8; 8];
            for (p, (a, b)) in prev.iter_mut().zip(pre_iv.iter().zip(salt)) {
                *p = a ^ b;
            }
            for block in data.chunks_exact_mut(8) {
                for (x, p) in block.iter_mut().zip(prev) {
                    *x ^= p;
                }
                let b: &mut cipher::Block<des::Des> = block.try_into().map_err(|_| CryptoError)?;
                des.encrypt_block(b);
                prev.copy_from_slice(block);
            }
            Ok(data)
        }
        PrivProto::Aes128
        | PrivProto::Aes192
        | PrivProto::Aes256
        | PrivProto::Aes192C
        | PrivProto::Aes256C => {
            let iv = aes_iv(boots, time, salt);
            let k = key.get(..proto.key_len()).ok_or(CryptoError)?;
            match proto.cipher() {
                PrivProto::Aes128 => cfb_mode::Encryptor::<Aes128>::new_from_slices(k, &iv)
                    .map_err(|_| CryptoError)?
                    .encrypt(&mut data),
                PrivProto::Aes192 => cfb_mode::Encryptor::<Aes192>::new_from_slices(k, &iv)
                    .map_err(|_| CryptoError)?
                    .encrypt(&mut data),
                _ => cfb_mode::Encryptor::<Aes256>::new_from_slices(k, &iv)
                    .map_err(|_| CryptoError)?
                    .encrypt(&mut data),
            }
            Ok(data)
        }
    }
}

fn aes_iv(boots: u32, time: u32, salt: &[u8]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    for (d, s) in iv.iter_mut().zip(
        boots
            .to_be_bytes()
            .iter()
            .chain(&time.to_be_bytes())
            .chain(salt),
    ) {
        *d = *s;
    }
    iv
}

/// RFC 3414 2.2.3: a message more than 150 s off the engine's time is not timely.
pub const TIME_WINDOW: i64 = 150;

/// The receiver's notion of a remote authoritative engine's clock (traps: the sender is
/// authoritative), used to refuse replayed messages.
#[derive(Debug, Clone, Copy)]
pub struct RemoteClock {
    /// `snmpEngineBoots` last accepted.
    pub boots: i64,
    /// `snmpEngineTime` at `seen`.
    pub time: i64,
    /// Highest `snmpEngineTime` received for `boots`.
    pub latest: i64,
    /// When (seconds on Picket's monotonic clock) `time` was current.
    pub seen: i64,
}

/// RFC 3414 3.2 step 7b for a non-authoritative receiver: checks `(boots, time)` against the
/// clock known for the engine and updates it. `None` (first contact) accepts and starts one.
pub fn timely(clock: &mut Option<RemoteClock>, boots: i64, time: i64, now: i64) -> bool {
    const MAX_BOOTS: i64 = 2_147_483_647;
    let Some(c) = clock else {
        *clock = Some(RemoteClock {
            boots,
            time,
            latest: time,
            seen: now,
        });
        return boots < MAX_BOOTS;
    };
    let estimated = c.time + (now - c.seen);
    if c.boots >= MAX_BOOTS
        || boots < c.boots
        || (boots == c.boots && time < estimated - TIME_WINDOW)
    {
        return false;
    }
    if boots > c.boots || time > c.latest {
        *c = RemoteClock {
            boots,
            time,
            latest: time,
            seen: now,
        };
    }
    true
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests;
