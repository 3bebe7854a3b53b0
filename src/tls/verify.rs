//! Which client certificates a server accepts, in the three modes rsyslog users know:
//! - chain: it chains to a configured CA (webpki's checks, key usage included);
//! - name: the chain, and a DNS SAN or the CN matches a permitted peer (`*.` a leading wildcard);
//! - fingerprint: its SHA-256 fingerprint is listed, and then nothing else about it is checked
//!   (FortiGate's factory certificate fails strict key-usage checks). The handshake signature is
//!   verified in every mode, so the client must hold the key.
//!
//! Refusals carry a [`Refusal`] so that the listener can count them by reason ([`reason`]).

use super::{ClientAuth, Error, Fingerprint, Settings};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, PeerIncompatible, SignatureScheme,
};
use std::sync::Arc;

/// Why a certificate that is otherwise fine was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Neither a DNS SAN nor the CN matches a permitted peer.
    NameNotPermitted,
    /// Only listed fingerprints are accepted and this one is not listed.
    FingerprintNotPermitted,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::NameNotPermitted => "the certificate names no permitted peer",
            Refusal::FingerprintNotPermitted => "the certificate's fingerprint is not permitted",
        })
    }
}

impl std::error::Error for Refusal {}

fn refuse(r: Refusal) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(r))))
}

/// The client-certificate policy of one server configuration.
#[derive(Debug)]
pub struct PeerVerifier {
    auth: ClientAuth,
    chain: Option<Arc<dyn ClientCertVerifier>>,
    peers: Vec<String>,
    fingerprints: Vec<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
    hints: Vec<DistinguishedName>,
}

impl PeerVerifier {
    /// The verifier for these settings; `None` when clients are not asked for a certificate.
    pub fn new(s: &Settings) -> Result<Option<Self>, Error> {
        if s.client_auth == ClientAuth::None {
            return Ok(None);
        }
        let provider = super::files::provider();
        let chain = match &s.client_ca {
            Some(path) => {
                let roots = Arc::new(super::files::roots(path)?);
                let v = WebPkiClientVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| Error::ClientCa {
                        detail: e.to_string(),
                    })?;
                Some(v)
            }
            None => None,
        };
        if chain.is_none() && s.permitted_fingerprints.is_empty() {
            return Err(Error::ClientCa {
                detail: "client certificates are asked for, but neither tls_client_ca nor \
                         tls_permitted_fingerprints says which to accept"
                    .into(),
            });
        }
        let hints = chain
            .as_ref()
            .map(|c| c.root_hint_subjects().to_vec())
            .unwrap_or_default();
        Ok(Some(PeerVerifier {
            auth: s.client_auth,
            chain,
            peers: s.permitted_peers.iter().map(|p| p.to_lowercase()).collect(),
            fingerprints: s.permitted_fingerprints.clone(),
            algorithms: provider.signature_verification_algorithms,
            hints,
        }))
    }
}

impl ClientCertVerifier for PeerVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.auth == ClientAuth::Required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if self.fingerprints.contains(&Fingerprint::of(end_entity)) {
            return Ok(ClientCertVerified::assertion());
        }
        let Some(chain) = &self.chain else {
            return Err(refuse(Refusal::FingerprintNotPermitted));
        };
        chain.verify_client_cert(end_entity, intermediates, now)?;
        if !self.peers.is_empty() {
            let info = super::files::info(end_entity).ok_or(rustls::Error::InvalidCertificate(
                CertificateError::BadEncoding,
            ))?;
            let names = info.dns_names.iter().chain(info.common_name.iter());
            let mut names = names.map(|n| n.to_lowercase());
            if !names.any(|n| self.peers.iter().any(|p| name_matches(p, &n))) {
                return Err(refuse(Refusal::NameNotPermitted));
            }
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Whether a permitted-peer pattern (lower case) matches a certificate name (lower case):
/// exactly, or `*.rest` for one more leading label (`*.example.net` matches `fw.example.net`,
/// not `example.net` or `a.b.example.net`).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(rest) => name
            .split_once('.')
            .is_some_and(|(label, tail)| !label.is_empty() && tail == rest),
        None => pattern == name,
    }
}

/// The metric label for a failed handshake's error.
pub fn reason(e: &rustls::Error) -> &'static str {
    use rustls::Error as E;
    match e {
        E::NoCertificatesPresented => "no_certificate",
        E::InvalidCertificate(CertificateError::UnknownIssuer) => "unknown_ca",
        E::InvalidCertificate(CertificateError::Other(o)) => match o.0.downcast_ref::<Refusal>() {
            Some(Refusal::NameNotPermitted) => "name_not_permitted",
            Some(Refusal::FingerprintNotPermitted) => "fingerprint_not_permitted",
            None => "bad_certificate",
        },
        E::InvalidCertificate(_) => "bad_certificate",
        // A TLS 1.0/1.1 ClientHello has no signature_algorithms extension (added in 1.2), and
        // rustls notices that before the version: it is an old protocol version too.
        E::PeerIncompatible(
            PeerIncompatible::SupportedVersionsExtensionRequired
            | PeerIncompatible::Tls12NotOffered
            | PeerIncompatible::Tls12NotOfferedOrEnabled
            | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
            | PeerIncompatible::SignatureAlgorithmsExtensionRequired,
        ) => "protocol_version",
        E::PeerIncompatible(_) => "incompatible",
        _ => "protocol_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_one_leading_label_only() {
        assert!(name_matches("fw.example.net", "fw.example.net"));
        assert!(!name_matches("fw.example.net", "fw2.example.net"));
        assert!(name_matches("*.example.net", "fw.example.net"));
        assert!(!name_matches("*.example.net", "example.net"));
        assert!(!name_matches("*.example.net", "a.b.example.net"));
        assert!(!name_matches("*.example.net", ".example.net"));
        assert!(!name_matches("fw.*.net", "fw.example.net"));
    }

    #[test]
    fn refusals_are_told_apart() {
        assert_eq!(
            reason(&refuse(Refusal::NameNotPermitted)),
            "name_not_permitted"
        );
        assert_eq!(
            reason(&refuse(Refusal::FingerprintNotPermitted)),
            "fingerprint_not_permitted"
        );
        assert_eq!(
            reason(&rustls::Error::NoCertificatesPresented),
            "no_certificate"
        );
        assert_eq!(
            reason(&rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "unknown_ca"
        );
    }
}
