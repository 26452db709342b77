//! TLS certificates for `[[api]]`'s `cert_min_days`: a handshake of its own
//! that reads the peer's chain whether or not it is trusted (so the expiry of
//! a self-signed local service is still known), the verdict on trust from
//! the same roots the GET uses, and the leaf's `notAfter`, read from the DER
//! (a short walk: rustls gives the certificate but does not parse it).
//!
//! The trust roots are Mozilla's (webpki-roots, as ureq uses) plus the PEM
//! certificates of `SSL_CERT_FILE`, when set: a private CA (mkcert, a
//! company CA) is trusted the way curl and OpenSSL trust it.

use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// What the probe saw.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The leaf certificate's `notAfter`.
    pub not_after: DateTime<Utc>,
    /// Whether the chain is trusted for the host now; the reason if not.
    pub trust: Result<(), String>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Mozilla's roots plus those of `SSL_CERT_FILE`.
fn roots() -> &'static Result<Arc<RootCertStore>, String> {
    static ROOTS: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut store = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(file) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
            let shown = std::path::Path::new(&file).display().to_string();
            let iter = CertificateDer::pem_file_iter(&file).map_err(|e| format!("SSL_CERT_FILE {shown}: {e}"))?;
            for cert in iter {
                let cert = cert.map_err(|e| format!("SSL_CERT_FILE {shown}: {e}"))?;
                store.add(cert).map_err(|e| format!("SSL_CERT_FILE {shown}: {e}"))?;
            }
        }
        Ok(Arc::new(store))
    })
}

/// The TLS configuration for ureq when `SSL_CERT_FILE` adds roots; `None`
/// keeps ureq's own (the same Mozilla roots).
pub fn client_config() -> Result<Option<Arc<ClientConfig>>, String> {
    if std::env::var_os("SSL_CERT_FILE").is_none_or(|f| f.is_empty()) {
        return Ok(None);
    }
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = roots().clone()?;
            let config = ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots)
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
        .map(Some)
}

/// Accepts any chain, so the handshake completes and the chain can be read;
/// the signatures of the handshake itself are still checked.
#[derive(Debug)]
struct ReadAny(Arc<CryptoProvider>);

impl ServerCertVerifier for ReadAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Handshakes with `host:port` within `timeout` and reads the leaf's expiry.
pub fn probe(host: &str, port: u16, timeout: Duration) -> Result<Probe, String> {
    let start = Instant::now();
    let left = || timeout.saturating_sub(start.elapsed()).max(Duration::from_millis(1));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string()).map_err(|e| format!("{host}: {e}"))?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: host not found ({e})"))?
        .next()
        .ok_or_else(|| format!("{host}: host not found"))?;
    let mut sock = TcpStream::connect_timeout(&addr, left()).map_err(|e| format!("connect to {addr}: {e}"))?;
    let p = provider();
    let config = ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ReadAny(p.clone())))
        .with_no_client_auth();
    let mut conn = ClientConnection::new(Arc::new(config), name.clone()).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        sock.set_read_timeout(Some(left())).map_err(|e| e.to_string())?;
        sock.set_write_timeout(Some(left())).map_err(|e| e.to_string())?;
        conn.complete_io(&mut sock).map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
    }
    let chain: Vec<CertificateDer<'static>> =
        conn.peer_certificates().unwrap_or_default().iter().map(|c| c.clone().into_owned()).collect();
    conn.send_close_notify();
    let _ = conn.write_tls(&mut sock);
    let _ = sock.flush();
    let (leaf, rest) = chain.split_first().ok_or("the server sent no certificate")?;
    let not_after = not_after(leaf).ok_or("the server's certificate could not be read (no notAfter)")?;
    let trust = match roots() {
        Err(e) => Err(e.clone()),
        Ok(roots) => WebPkiServerVerifier::builder_with_provider(roots.clone(), p)
            .build()
            .map_err(|e| e.to_string())
            .and_then(|v| {
                v.verify_server_cert(leaf, rest, &name, &[], UnixTime::now()).map(|_| ()).map_err(|e| e.to_string())
            }),
    };
    Ok(Probe { not_after, trust })
}

/// One DER element at the start of `der`: (tag, contents, what follows).
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        (rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize), &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The `notAfter` of an X.509 certificate: Certificate → tbsCertificate →
/// ([0] version,) serialNumber, signature, issuer, validity → notAfter.
pub fn not_after(cert: &[u8]) -> Option<DateTime<Utc>> {
    let (0x30, cert, _) = element(cert)? else { return None };
    let (0x30, tbs, _) = element(cert)? else { return None };
    let (tag, _, mut rest) = element(tbs)?;
    if tag != 0xa0 {
        rest = tbs; // v1: no version field
    }
    for _ in 0..3 {
        rest = element(rest)?.2; // serialNumber, signature, issuer
    }
    let (0x30, validity, _) = element(rest)? else { return None };
    let (_, _, after) = element(validity)?; // notBefore
    let (tag, time, _) = element(after)?;
    parse_time(tag, std::str::from_utf8(time).ok()?)
}

/// UTCTime (`YYMMDDHHMMSSZ`, 50..99 = 19xx) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn parse_time(tag: u8, s: &str) -> Option<DateTime<Utc>> {
    let s = s.strip_suffix('Z')?;
    let full = match tag {
        0x17 if s.len() == 12 => {
            let yy: u32 = s[..2].parse().ok()?;
            format!("{}{s}", if yy >= 50 { "19" } else { "20" })
        }
        0x18 if s.len() == 14 => s.to_string(),
        _ => return None,
    };
    let num = |r: std::ops::Range<usize>| full.get(r)?.parse::<u32>().ok();
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?;
    Some(date.and_hms_opt(num(8..10)?, num(10..12)?, num(12..14)?)?.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_both_encodings() {
        assert_eq!(parse_time(0x17, "261130054859Z").unwrap().to_rfc3339(), "2026-11-30T05:48:59+00:00");
        assert_eq!(parse_time(0x17, "991231235959Z").unwrap().to_rfc3339(), "1999-12-31T23:59:59+00:00");
        assert_eq!(parse_time(0x18, "20500101000000Z").unwrap().to_rfc3339(), "2050-01-01T00:00:00+00:00");
        assert!(parse_time(0x17, "2611300548Z").is_none());
    }

    #[test]
    fn the_expiry_of_a_real_certificate() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-cert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, pem) = (dir.join("k.pem"), dir.join("c.pem"));
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "5", "-subj", "/CN=127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&pem)
            .output()
            .expect("the openssl command is needed by this test (apt-get install openssl)");
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        let der = CertificateDer::from_pem_file(&pem).unwrap();
        let got = not_after(&der).unwrap();
        let days = (got - Utc::now()).num_hours();
        assert!((5 * 24 - 1..=5 * 24).contains(&days), "{got}");
        assert!(not_after(&[0x30, 0x00]).is_none());
        assert!(not_after(&der[..40]).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
