//! TLS to the PostgreSQL server, with libpq's `sslmode` meanings (rustls
//! with the `ring` provider: no system OpenSSL to build or link against).
//!
//! - `disable`: no TLS;
//! - `prefer` (the default) and `require`: TLS if the server offers it (for
//!   `require`: or fail); the certificate is not checked, as libpq does not
//!   check it — unless `sslrootcert` is given, which makes it `verify-ca`;
//! - `verify-ca`: the certificate must chain to a CA of `sslrootcert`;
//! - `verify-full`: and name the host of the URL.
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the
//! machine's trust store; `verify-*` without it reads
//! `~/.postgresql/root.crt`, as libpq does. The client library knows only
//! `disable`, `prefer` and `require`, so the URL it is given says `require`
//! where this module checks more, and has no `sslrootcert`.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How the server's certificate is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// Encrypted, the certificate taken as it comes (`prefer`, `require`).
    Nothing,
    /// It chains to a trusted CA (`verify-ca`).
    Chain(Roots),
    /// It chains to a trusted CA and names the host (`verify-full`).
    Full(Roots),
}

/// The CAs trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Roots {
    File(PathBuf),
    System,
}

/// A URL split into what the client library reads and how to check the
/// certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsUrl {
    pub url: String,
    pub verify: Verify,
}

/// Reads `sslmode` and `sslrootcert` from a `postgres://` URL's query.
pub fn split_url(url: &str) -> Result<TlsUrl, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => {
            return Ok(TlsUrl {
                url: url.to_string(),
                verify: Verify::Nothing,
            })
        }
    };
    let mut kept = Vec::new();
    let (mut mode, mut root) = (None, None);
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        match k {
            "sslmode" => mode = Some(percent_decode(v)?),
            "sslrootcert" => root = Some(percent_decode(v)?),
            _ => kept.push(kv.to_string()),
        }
    }
    let roots = |root: &Option<String>| -> Result<Roots, String> {
        Ok(match root.as_deref() {
            Some("system") => Roots::System,
            Some(p) => Roots::File(PathBuf::from(p)),
            None => {
                let home = std::env::var_os("HOME").ok_or("no sslrootcert and no HOME")?;
                Roots::File(PathBuf::from(home).join(".postgresql/root.crt"))
            }
        })
    };
    let (client_mode, verify) = match mode.as_deref() {
        None | Some("prefer") | Some("require") | Some("allow") => {
            let m = mode.clone().unwrap_or_else(|| "prefer".into());
            // libpq: a root certificate given makes require verify-ca.
            let v = match &root {
                Some(_) => Verify::Chain(roots(&root)?),
                None => Verify::Nothing,
            };
            let m = if m == "allow" {
                "prefer".to_string()
            } else {
                m
            };
            (m, v)
        }
        Some("disable") => ("disable".to_string(), Verify::Nothing),
        Some("verify-ca") => ("require".to_string(), Verify::Chain(roots(&root)?)),
        Some("verify-full") => ("require".to_string(), Verify::Full(roots(&root)?)),
        Some(other) => {
            return Err(format!(
            "sslmode={other} is not one of disable, allow, prefer, require, verify-ca, verify-full"
        ))
        }
    };
    kept.push(format!("sslmode={client_mode}"));
    Ok(TlsUrl {
        url: format!("{base}?{}", kept.join("&")),
        verify,
    })
}

fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent-encoding in `{s}`"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("`{s}` is not UTF-8 once decoded"))
}

/// The connector for a URL's checks.
pub fn connector(verify: &Verify) -> Result<MakeRustlsConnect, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(AnyCertificate(provider.clone())),
        Verify::Chain(r) => Arc::new(ChainOnly(webpki(r, &provider)?)),
        Verify::Full(r) => webpki(r, &provider)?,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

fn webpki(
    roots: &Roots,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    let mut store = RootCertStore::empty();
    match roots {
        Roots::File(p) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(p)
                .map_err(|e| format!("cannot read the CA certificates in {}: {e}", p.display()))?
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: not PEM certificates: {e}", p.display()))?;
            if certs.is_empty() {
                return Err(format!("{} holds no certificate", p.display()));
            }
            for c in certs {
                store
                    .add(c)
                    .map_err(|e| format!("{}: a certificate rustls refuses: {e}", p.display()))?;
            }
        }
        Roots::System => {
            let found = rustls_native_certs::load_native_certs();
            for c in found.certs {
                let _ = store.add(c);
            }
            if store.is_empty() {
                return Err("the machine's trust store holds no CA certificate".into());
            }
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| format!("TLS setup: {e}"))
}

/// `prefer`/`require`: the handshake still proves the server holds the
/// certificate's key; who signed it is not checked.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked, the host name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_what_the_client_reads() {
        let t = split_url("postgres://u@h:5/db").unwrap();
        assert_eq!(t.verify, Verify::Nothing);
        assert_eq!(t.url, "postgres://u@h:5/db");
        let t = split_url(
            "postgres://u@h/db?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(t.url, "postgres://u@h/db?connect_timeout=3&sslmode=require");
        assert_eq!(t.verify, Verify::Full(Roots::File("/etc/ca.pem".into())));
        let t = split_url("postgres://u@h/db?sslmode=verify-ca&sslrootcert=system").unwrap();
        assert_eq!(t.verify, Verify::Chain(Roots::System));
        // libpq: a root certificate makes require check the chain.
        let t = split_url("postgres://u@h/db?sslmode=require&sslrootcert=/ca").unwrap();
        assert_eq!(t.verify, Verify::Chain(Roots::File("/ca".into())));
        assert_eq!(t.url, "postgres://u@h/db?sslmode=require");
        let t = split_url("postgres://u@h/db?sslmode=disable").unwrap();
        assert_eq!(t.url, "postgres://u@h/db?sslmode=disable");
        assert!(split_url("postgres://u@h/db?sslmode=always").is_err());
        assert!(split_url("postgres://u@h/db?sslrootcert=%zz").is_err());
    }
}
