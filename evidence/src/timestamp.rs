//! RFC 3161 time-stamps: asking a Time-Stamping Authority (TSA) to vouch that a
//! ledger checkpoint existed at a given time, and checking what it answered.
//!
//! A token is kept exactly as the TSA sent it (its DER bytes are what a court's
//! expert re-verifies with `openssl ts -verify`), and everything is re-derived
//! from those bytes on every verification: nothing parsed here is trusted.
//!
//! Verification is split in two because the two halves answer different
//! questions:
//! * [`TimestampToken::verify`] — is this a well-formed token, signed by the
//!   certificate it names, over *this* digest? It needs no trust decision.
//! * [`verify_chain`] — does that signer certificate chain to a root the
//!   verifier chose to trust, and was every link valid at the stamped time?
//!
//! Known limits: only the SHA-256/384/512 digests, RSA PKCS#1 v1.5 and ECDSA
//! P-256 signatures are supported; revocation (CRL/OCSP) is not checked; a
//! legacy ESS `signingCertificate` (v1, SHA-1) attribute is accepted without
//! checking its hash, while the `signingCertificateV2` hash is checked.
//!
//! Parsing never panics on hostile input: every failure is a
//! [`TimestampError`] naming the check that failed.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use cms::cert::x509::ext::pkix::name::GeneralName;
use cms::cert::x509::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use cms::cert::x509::ext::Extensions;
use cms::cert::x509::Certificate;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, BitString, Int, ObjectIdentifier, OctetString};
use der::oid::db::rfc5280::ID_CE_EXT_KEY_USAGE;
use der::{Decode, DecodeValue, Encode, EncodeValue, FixedTag, Header, Length, Reader, Sequence, Tag, Tagged, Writer};
use serde::Serialize;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::Digest;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TSTINFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERT_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CE_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const PRIME256V1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// How many certificates a chain may have above the signer; real TSA chains
/// have one or two, and the bound keeps a hostile token from looping us.
const MAX_CHAIN: usize = 8;

/// Everything that can go wrong asking for or checking a time-stamp. Each
/// variant is one distinct check, so a verifier can name the one that failed
/// ([`TimestampError::check`]).
#[derive(Debug, thiserror::Error)]
pub enum TimestampError {
    #[error("timestamp response: cannot parse the TimeStampResp: {0}")]
    MalformedResponse(String),
    #[error(
        "timestamp response: the TSA did not grant the request: status {status_name} ({status}){}{}",
        describe_text(.status_text),
        describe_fail_info(.fail_info)
    )]
    Rejected { status: i64, status_name: &'static str, status_text: Vec<String>, fail_info: Vec<&'static str> },
    #[error("timestamp response: status {status_name} but the response carries no token")]
    MissingToken { status_name: &'static str },
    #[error("timestamp token: cannot parse {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("timestamp token: content type is {found}, not signed-data")]
    NotSignedData { found: String },
    #[error("timestamp token: encapsulated content type is {found}, not id-ct-TSTInfo")]
    NotTstInfo { found: String },
    #[error("timestamp token: has {count} signers; exactly one (the TSA) is required")]
    SignerCount { count: usize },
    #[error("timestamp token: the signer certificate is not among the token's certificates")]
    SignerCertificateMissing,
    #[error("timestamp token: signed attributes: {0}")]
    SignedAttributes(String),
    #[error("timestamp token: the message-digest attribute does not match the digest of the TSTInfo")]
    MessageDigestMismatch,
    #[error("timestamp token: unsupported {what} algorithm {oid}")]
    UnsupportedAlgorithm { what: &'static str, oid: String },
    #[error("timestamp token: signature does not verify with the signer certificate `{subject}`")]
    BadSignature { subject: String },
    #[error("timestamp token: the signer certificate `{subject}` is not a time-stamping certificate: {reason}")]
    NotTimestampingCertificate { subject: String, reason: &'static str },
    #[error(
        "timestamp token: the ESS signing-certificate attribute does not identify the signer certificate `{subject}`"
    )]
    EssCertIdMismatch { subject: String },
    #[error("timestamp token: message imprint uses {oid}, not SHA-256")]
    ImprintAlgorithm { oid: String },
    #[error("timestamp token: message imprint does not match the checkpoint (token has {found}, expected {expected})")]
    ImprintMismatch { expected: Digest, found: String },
    #[error(
        "timestamp token: nonce {} does not match the request's nonce 0x{}",
        .found.as_deref().unwrap_or("(absent)"),
        hex::encode(minimal_be_bytes(*.expected))
    )]
    NonceMismatch { expected: u64, found: Option<String> },
    #[error("timestamp chain: trusted root #{index} is not a certificate: {detail}")]
    BadTrustedRoot { index: usize, detail: String },
    #[error("timestamp chain: a certificate in the token cannot be parsed: {0}")]
    BadChainCertificate(String),
    #[error("timestamp chain: no trusted root or token certificate issued `{subject}` (issuer `{issuer}`)")]
    Untrusted { subject: String, issuer: String },
    #[error("timestamp chain: the chain ends at `{subject}`, which is not among the trusted roots")]
    UntrustedRoot { subject: String },
    #[error("timestamp chain: the signature on `{subject}` does not verify with issuer `{issuer}`")]
    ChainSignature { subject: String, issuer: String },
    #[error(
        "timestamp chain: certificate `{subject}` is not valid at the stamped time {} (valid from {not_before} to {not_after})",
        .gen_time.format("%Y-%m-%dT%H:%M:%SZ")
    )]
    NotValidAt { subject: String, gen_time: DateTime<Utc>, not_before: String, not_after: String },
    #[error("timestamp chain: `{subject}` issued a certificate but is not a CA")]
    NotCa { subject: String },
    #[error("timestamp chain: longer than {MAX_CHAIN} certificates")]
    ChainTooLong,
    #[error("timestamp CA file: {0}")]
    Pem(String),
}

impl TimestampError {
    /// A stable, short name for the check that failed, for reports and for
    /// tests that must tell failures apart without matching on prose.
    pub fn check(&self) -> &'static str {
        use TimestampError as E;
        match self {
            E::MalformedResponse(_) => "response-format",
            E::Rejected { .. } => "tsa-status",
            E::MissingToken { .. } => "response-token",
            E::Malformed { .. } => "token-format",
            E::NotSignedData { .. } => "content-type",
            E::NotTstInfo { .. } => "econtent-type",
            E::SignerCount { .. } => "signer-count",
            E::SignerCertificateMissing => "signer-certificate",
            E::SignedAttributes(_) => "signed-attributes",
            E::MessageDigestMismatch => "message-digest",
            E::UnsupportedAlgorithm { .. } => "algorithm",
            E::BadSignature { .. } => "signature",
            E::NotTimestampingCertificate { .. } => "signer-eku",
            E::EssCertIdMismatch { .. } => "ess-cert-id",
            E::ImprintAlgorithm { .. } => "imprint-algorithm",
            E::ImprintMismatch { .. } => "imprint",
            E::NonceMismatch { .. } => "nonce",
            E::BadTrustedRoot { .. } => "trusted-root",
            E::BadChainCertificate(_) => "chain-format",
            E::Untrusted { .. } | E::UntrustedRoot { .. } => "chain-trust",
            E::ChainSignature { .. } => "chain-signature",
            E::NotValidAt { .. } => "chain-validity",
            E::NotCa { .. } => "chain-ca",
            E::ChainTooLong => "chain-length",
            E::Pem(_) => "ca-file",
        }
    }
}

fn describe_text(text: &[String]) -> String {
    if text.is_empty() {
        String::new()
    } else {
        format!(", \"{}\"", text.join("; "))
    }
}

fn describe_fail_info(fail_info: &[&str]) -> String {
    if fail_info.is_empty() {
        String::new()
    } else {
        format!(", failure {}", fail_info.join(", "))
    }
}

fn malformed(what: &'static str) -> impl Fn(der::Error) -> TimestampError {
    move |e| TimestampError::Malformed { what, detail: e.to_string() }
}

// ---------------------------------------------------------------------------
// The request.

/// The DER of `AlgorithmIdentifier { id-sha256, NULL }`. The NULL parameter is
/// optional for SHA-2 but some TSAs insist on it, and OpenSSL sends it too.
const SHA256_ALGORITHM_DER: [u8; 15] =
    [0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00];

/// A DER `TimeStampReq` for a SHA-256 digest:
/// `{ version 1, messageImprint { sha256, digest }, nonce, certReq TRUE }`.
///
/// Written out by hand rather than through an encoder because the shape is
/// fixed (only the nonce's length varies, and the whole stays under 128
/// bytes, so every length is one byte): this cannot fail, so it needs no
/// error path. `certReq` asks the TSA to embed its certificate, which makes
/// the token verifiable on its own.
pub fn query_der(message_sha256: &Digest, nonce: u64) -> Vec<u8> {
    let nonce = integer_der(nonce);

    let mut imprint = Vec::with_capacity(2 + 15 + 34);
    imprint.extend_from_slice(&[0x30, 15 + 34]);
    imprint.extend_from_slice(&SHA256_ALGORITHM_DER);
    imprint.extend_from_slice(&[0x04, 32]);
    imprint.extend_from_slice(&message_sha256.0);

    let mut body = vec![0x02, 0x01, 0x01]; // version v1
    body.extend_from_slice(&imprint);
    body.extend_from_slice(&nonce);
    body.extend_from_slice(&[0x01, 0x01, 0xff]); // certReq TRUE

    let mut out = Vec::with_capacity(2 + body.len());
    out.push(0x30);
    // At most 3 + 51 + 11 + 3 = 68 bytes: the short length form always fits.
    out.push(body.len() as u8);
    out.extend_from_slice(&body);
    out
}

/// `n` in big-endian without leading zero bytes (one byte for zero).
fn minimal_be_bytes(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
    bytes.get(first..).unwrap_or(&[0]).to_vec()
}

/// The DER INTEGER for a non-negative `n`: minimal big-endian bytes, with a
/// leading zero when the top bit is set (it would otherwise read negative).
fn integer_der(n: u64) -> Vec<u8> {
    let mut magnitude = minimal_be_bytes(n);
    if magnitude.first().is_some_and(|&b| b & 0x80 != 0) {
        magnitude.insert(0, 0);
    }
    let mut out = vec![0x02, magnitude.len() as u8];
    out.extend_from_slice(&magnitude);
    out
}

// ---------------------------------------------------------------------------
// The response.

/// `PKIStatusInfo` (RFC 3161 §2.4.2, from RFC 4210).
#[derive(Sequence)]
struct PkiStatusInfo {
    status: i64,
    status_string: Option<Vec<String>>,
    fail_info: Option<BitString>,
}

/// `TimeStampResp`. The token is kept as an opaque TLV: it is only ever
/// handed on as bytes, and parsed when verified.
#[derive(Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    time_stamp_token: Option<Any>,
}

fn status_name(status: i64) -> &'static str {
    match status {
        0 => "granted",
        1 => "grantedWithMods",
        2 => "rejection",
        3 => "waiting",
        4 => "revocationWarning",
        5 => "revocationNotification",
        _ => "unknown",
    }
}

/// The names of the `PKIFailureInfo` bits RFC 3161 defines.
fn fail_info_names(bits: &BitString) -> Vec<&'static str> {
    const NAMES: [(usize, &str); 8] = [
        (0, "badAlg"),
        (2, "badRequest"),
        (5, "badDataFormat"),
        (14, "timeNotAvailable"),
        (15, "unacceptedPolicy"),
        (16, "unacceptedExtension"),
        (17, "addInfoNotAvailable"),
        (25, "systemFailure"),
    ];
    let raw = bits.raw_bytes();
    NAMES
        .iter()
        .filter(|(bit, _)| raw.get(bit / 8).is_some_and(|byte| byte & (0x80 >> (bit % 8)) != 0))
        .map(|(_, name)| *name)
        .collect()
}

/// Reads a DER `TimeStampResp` as the TSA sent it over HTTP, and returns its
/// token if the TSA granted the request (`granted` or `grantedWithMods`).
///
/// The token is not verified here: call [`TimestampToken::verify`] with the
/// digest and nonce that were asked for.
pub fn token_from_response(der: &[u8]) -> Result<TimestampToken, TimestampError> {
    let resp = TimeStampResp::from_der(der).map_err(|e| TimestampError::MalformedResponse(e.to_string()))?;
    let status = resp.status.status;
    if status != 0 && status != 1 {
        return Err(TimestampError::Rejected {
            status,
            status_name: status_name(status),
            status_text: resp.status.status_string.unwrap_or_default(),
            fail_info: resp.status.fail_info.as_ref().map(fail_info_names).unwrap_or_default(),
        });
    }
    let token = resp.time_stamp_token.ok_or(TimestampError::MissingToken { status_name: status_name(status) })?;
    let bytes = token.to_der().map_err(|e| TimestampError::MalformedResponse(e.to_string()))?;
    Ok(TimestampToken::from_der(bytes))
}

// ---------------------------------------------------------------------------
// The token.

/// `MessageImprint ::= SEQUENCE { hashAlgorithm, hashedMessage }`.
#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `Accuracy` — parsed only so that the fields after it line up.
#[derive(Sequence)]
struct Accuracy {
    seconds: Option<u64>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<u16>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<u16>,
}

/// `TSTInfo` (RFC 3161 §2.4.2): what the TSA actually vouches for.
#[derive(Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: RawGeneralizedTime,
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true", optional = "true")]
    extensions: Option<Extensions>,
}

/// A GeneralizedTime kept as its text. `der`'s own type refuses fractional
/// seconds, which RFC 3161 explicitly allows in `genTime` (many TSAs send
/// milliseconds), so it is parsed here by [`parse_generalized_time`].
struct RawGeneralizedTime(Vec<u8>);

impl FixedTag for RawGeneralizedTime {
    const TAG: Tag = Tag::GeneralizedTime;
}

impl<'a> DecodeValue<'a> for RawGeneralizedTime {
    fn decode_value<R: Reader<'a>>(reader: &mut R, header: Header) -> der::Result<Self> {
        Ok(RawGeneralizedTime(reader.read_vec(header.length)?))
    }
}

impl EncodeValue for RawGeneralizedTime {
    fn value_len(&self) -> der::Result<Length> {
        Length::try_from(self.0.len())
    }

    fn encode_value(&self, writer: &mut impl Writer) -> der::Result<()> {
        writer.write(&self.0)
    }
}

/// `YYYYMMDDHHMMSS[.f+]Z`, the only form RFC 3161 permits for `genTime`.
fn parse_generalized_time(text: &[u8]) -> Option<DateTime<Utc>> {
    let text = std::str::from_utf8(text).ok()?;
    let (main, rest) = (text.get(..14)?, text.get(14..)?);
    if !main.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |range: std::ops::Range<usize>| main.get(range)?.parse::<u32>().ok();
    let rest = rest.strip_suffix('Z')?;
    let nanos = if rest.is_empty() {
        0
    } else {
        let fraction = rest.strip_prefix('.')?;
        if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Nanosecond precision is plenty; further digits are dropped.
        let digits: String = fraction.chars().chain(std::iter::repeat('0')).take(9).collect();
        digits.parse::<u32>().ok()?
    };
    let date = NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?;
    let time = date.and_hms_nano_opt(num(8..10)?, num(10..12)?, num(12..14)?, nanos)?;
    Some(time.and_utc())
}

/// What a verified token says, for the bundle's report.
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    /// When the TSA says it saw the digest.
    pub gen_time: DateTime<Utc>,
    /// The TSA's serial number for this token, as lowercase hex.
    pub serial: String,
    /// The TSA policy the token was issued under, as a dotted OID.
    pub policy: String,
    /// The TSA's name if it put one in the token.
    pub tsa_name: Option<String>,
    /// The signer certificate's subject (RFC 4514 form).
    pub signer_subject: String,
    /// SHA-256 of the signer certificate's DER.
    pub signer_cert_sha256: Digest,
    /// The DER of every certificate the token carries, for [`verify_chain`].
    #[serde(skip)]
    pub certificates: Vec<Vec<u8>>,
}

/// An RFC 3161 `TimeStampToken`: a CMS `ContentInfo` with `SignedData` over a
/// `TSTInfo`, held as the exact DER bytes the TSA returned.
#[derive(Clone, PartialEq, Eq)]
pub struct TimestampToken {
    der: Vec<u8>,
}

impl fmt::Debug for TimestampToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TimestampToken({} bytes)", self.der.len())
    }
}

impl TimestampToken {
    /// Wraps stored token bytes; nothing is checked until [`Self::verify`].
    pub fn from_der(der: Vec<u8>) -> TimestampToken {
        TimestampToken { der }
    }

    pub fn as_der(&self) -> &[u8] {
        &self.der
    }

    /// Checks that the token is a TSA's signature over `message_sha256` (and
    /// echoes `expected_nonce`, when one was sent), and says what it vouches.
    ///
    /// The checks run in this order: structure; the signer certificate may
    /// time-stamp (critical extendedKeyUsage id-kp-timeStamping); the signed
    /// attributes bind the TSTInfo and that certificate; the signature; and
    /// only then the imprint and nonce, so that a forged token is reported as
    /// forged rather than as "for another digest". Whether the signer is
    /// trusted is [`verify_chain`]'s question.
    pub fn verify(&self, message_sha256: &Digest, expected_nonce: Option<u64>) -> Result<TokenInfo, TimestampError> {
        let content_info = ContentInfo::from_der(&self.der).map_err(malformed("the ContentInfo"))?;
        if content_info.content_type != ID_SIGNED_DATA {
            return Err(TimestampError::NotSignedData { found: content_info.content_type.to_string() });
        }
        let signed: SignedData = content_info.content.decode_as().map_err(malformed("the SignedData"))?;

        let encap = &signed.encap_content_info;
        if encap.econtent_type != ID_CT_TSTINFO {
            return Err(TimestampError::NotTstInfo { found: encap.econtent_type.to_string() });
        }
        let tst_der = match &encap.econtent {
            Some(any) if any.tag() == Tag::OctetString => any.value(),
            _ => {
                return Err(TimestampError::Malformed {
                    what: "the TSTInfo",
                    detail: "the eContent is missing or not an OCTET STRING".into(),
                })
            }
        };
        let tst = TstInfo::from_der(tst_der).map_err(malformed("the TSTInfo"))?;
        if tst.version != 1 {
            return Err(TimestampError::Malformed {
                what: "the TSTInfo",
                detail: format!("version {} (only v1 exists)", tst.version),
            });
        }
        let gen_time = parse_generalized_time(&tst.gen_time.0).ok_or_else(|| TimestampError::Malformed {
            what: "the TSTInfo genTime",
            detail: String::from_utf8_lossy(&tst.gen_time.0).into_owned(),
        })?;

        let signer_info = match signed.signer_infos.0.as_slice() {
            [one] => one,
            many => return Err(TimestampError::SignerCount { count: many.len() }),
        };
        let certificates: Vec<&Certificate> = signed
            .certificates
            .iter()
            .flat_map(|set| set.0.iter())
            .filter_map(|choice| match choice {
                CertificateChoices::Certificate(cert) => Some(cert),
                CertificateChoices::Other(_) => None,
            })
            .collect();
        let signer = find_signer(&certificates, &signer_info.sid).ok_or(TimestampError::SignerCertificateMissing)?;
        let signer_der = signer.to_der().map_err(malformed("the signer certificate"))?;
        let signer_subject = signer.tbs_certificate.subject.to_string();

        // Whether the signer may time-stamp at all comes first: a token from
        // any other certificate is refused whatever else it contains.
        check_timestamping_eku(signer, &signer_subject)?;
        check_signed_attributes(signer_info, tst_der, &signer_der, &signer_subject)?;
        check_cms_signature(signer_info, signer, &signer_subject)?;

        check_imprint(&tst.message_imprint, message_sha256)?;
        if let Some(expected) = expected_nonce {
            check_nonce(tst.nonce.as_ref(), expected)?;
        }

        let certificates = certificates
            .iter()
            .map(|cert| cert.to_der())
            .collect::<Result<Vec<_>, _>>()
            .map_err(malformed("a token certificate"))?;
        Ok(TokenInfo {
            gen_time,
            serial: integer_hex(&tst.serial_number),
            policy: tst.policy.to_string(),
            tsa_name: tst.tsa.as_ref().map(general_name_text),
            signer_subject,
            signer_cert_sha256: Digest::of(&signer_der),
            certificates,
        })
    }
}

fn integer_hex(int: &Int) -> String {
    let bytes = int.as_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    hex::encode(bytes.get(first..).unwrap_or_default())
}

fn general_name_text(name: &GeneralName) -> String {
    match name {
        GeneralName::DirectoryName(name) => name.to_string(),
        GeneralName::DnsName(s) | GeneralName::Rfc822Name(s) => s.to_string(),
        GeneralName::UniformResourceIdentifier(s) => s.to_string(),
        GeneralName::RegisteredId(oid) => oid.to_string(),
        _ => "(unsupported name form)".to_string(),
    }
}

fn find_signer<'a>(certs: &[&'a Certificate], sid: &SignerIdentifier) -> Option<&'a Certificate> {
    certs.iter().copied().find(|cert| match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            cert.tbs_certificate.issuer == ias.issuer && cert.tbs_certificate.serial_number == ias.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => extension::<SubjectKeyIdentifier>(cert, ID_CE_SUBJECT_KEY_ID)
            .ok()
            .flatten()
            .is_some_and(|(_, found)| found == *ski),
    })
}

/// The value of extension `oid` in `cert`, with its criticality. A present but
/// unparseable extension is an error, not an absence.
fn extension<T: for<'a> Decode<'a>>(cert: &Certificate, oid: ObjectIdentifier) -> der::Result<Option<(bool, T)>> {
    let Some(ext) = cert.tbs_certificate.extensions.iter().flatten().find(|ext| ext.extn_id == oid) else {
        return Ok(None);
    };
    Ok(Some((ext.critical, T::from_der(ext.extn_value.as_bytes())?)))
}

/// The single value of signed attribute `oid`; absent, repeated or
/// multi-valued attributes are refused (RFC 5652 §11 requires one value).
fn single_attribute<'a>(
    attrs: &'a cms::signed_data::SignedAttributes,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<Option<&'a Any>, TimestampError> {
    let mut matching = attrs.iter().filter(|attr| attr.oid == oid);
    let Some(attr) = matching.next() else {
        return Ok(None);
    };
    if matching.next().is_some() {
        return Err(TimestampError::SignedAttributes(format!("the {name} attribute appears more than once")));
    }
    match attr.values.as_slice() {
        [value] => Ok(Some(value)),
        _ => Err(TimestampError::SignedAttributes(format!("the {name} attribute must have exactly one value"))),
    }
}

fn check_signed_attributes(
    signer_info: &SignerInfo,
    tst_der: &[u8],
    signer_der: &[u8],
    signer_subject: &str,
) -> Result<(), TimestampError> {
    let attrs = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| TimestampError::SignedAttributes("absent (RFC 3161 requires them)".into()))?;
    let attr_error = |what: &str| TimestampError::SignedAttributes(what.to_string());

    let content_type = single_attribute(attrs, ID_CONTENT_TYPE, "content-type")?
        .ok_or_else(|| attr_error("the content-type attribute is missing"))?;
    if content_type.decode_as::<ObjectIdentifier>().ok() != Some(ID_CT_TSTINFO) {
        return Err(attr_error("the content-type attribute is not id-ct-TSTInfo"));
    }

    let digest_alg = HashAlg::from_algorithm(&signer_info.digest_alg)?;
    let message_digest = single_attribute(attrs, ID_MESSAGE_DIGEST, "message-digest")?
        .ok_or_else(|| attr_error("the message-digest attribute is missing"))?
        .decode_as::<OctetString>()
        .map_err(|_| attr_error("the message-digest attribute is not an OCTET STRING"))?;
    if message_digest.as_bytes() != digest_alg.hash(tst_der) {
        return Err(TimestampError::MessageDigestMismatch);
    }

    check_ess_cert_id(attrs, signer_der, signer_subject)
}

/// `SigningCertificateV2` (RFC 5035) binds the signature to one certificate,
/// so a different certificate for the same key cannot be substituted.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    policies: Option<Any>,
}

#[derive(Sequence)]
struct EssCertIdV2 {
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    issuer_serial: Option<Any>,
}

fn check_ess_cert_id(
    attrs: &cms::signed_data::SignedAttributes,
    signer_der: &[u8],
    signer_subject: &str,
) -> Result<(), TimestampError> {
    let v2 = single_attribute(attrs, ID_SIGNING_CERT_V2, "signing-certificate-v2")?;
    let v1 = single_attribute(attrs, ID_SIGNING_CERT, "signing-certificate")?;
    let Some(v2) = v2 else {
        // RFC 3161 requires one of the two. The v1 form hashes with SHA-1,
        // which this crate does not carry; the CMS signature still binds the
        // key, so it is accepted unchecked (see the module docs).
        return match v1 {
            Some(_) => Ok(()),
            None => Err(TimestampError::SignedAttributes(
                "no ESS signing-certificate attribute (RFC 3161 requires one)".into(),
            )),
        };
    };
    let v2: SigningCertificateV2 = v2
        .decode_as()
        .map_err(|e| TimestampError::SignedAttributes(format!("signing-certificate-v2 does not parse: {e}")))?;
    // The first ESSCertIDv2 is the signer's (RFC 5035 §3).
    let first = v2
        .certs
        .first()
        .ok_or_else(|| TimestampError::SignedAttributes("signing-certificate-v2 lists no certificate".into()))?;
    let alg = match &first.hash_algorithm {
        None => HashAlg::Sha256,
        Some(alg) => HashAlg::from_algorithm(alg)?,
    };
    if first.cert_hash.as_bytes() != alg.hash(signer_der) {
        return Err(TimestampError::EssCertIdMismatch { subject: signer_subject.to_string() });
    }
    Ok(())
}

fn check_cms_signature(
    signer_info: &SignerInfo,
    signer: &Certificate,
    signer_subject: &str,
) -> Result<(), TimestampError> {
    // RFC 5652 §5.4: the signature covers the DER of the attributes with the
    // SET OF tag, not the [0] IMPLICIT tag they are stored under.
    let signed_attrs = signer_info
        .signed_attrs
        .as_ref()
        .map(|attrs| attrs.to_der())
        .transpose()
        .map_err(malformed("the signed attributes"))?
        .unwrap_or_default();
    let digest_alg = HashAlg::from_algorithm(&signer_info.digest_alg)?;
    let verified = verify_signature(
        &signer.tbs_certificate.subject_public_key_info,
        &signer_info.signature_algorithm,
        Some(digest_alg),
        &signed_attrs,
        signer_info.signature.as_bytes(),
    )?;
    if verified {
        Ok(())
    } else {
        Err(TimestampError::BadSignature { subject: signer_subject.to_string() })
    }
}

/// RFC 3161 §2.3: the TSA certificate must carry exactly one, critical,
/// extended key usage: id-kp-timeStamping. (`openssl ts -verify` insists too.)
fn check_timestamping_eku(signer: &Certificate, subject: &str) -> Result<(), TimestampError> {
    let refuse = |reason| TimestampError::NotTimestampingCertificate { subject: subject.to_string(), reason };
    match extension::<ExtendedKeyUsage>(signer, ID_CE_EXT_KEY_USAGE) {
        Err(_) => Err(refuse("its extendedKeyUsage does not parse")),
        Ok(None) => Err(refuse("it has no extendedKeyUsage")),
        Ok(Some((false, _))) => Err(refuse("its extendedKeyUsage is not critical")),
        Ok(Some((true, eku))) if eku.0 == [ID_KP_TIME_STAMPING] => Ok(()),
        Ok(Some((true, _))) => Err(refuse("its extendedKeyUsage is not exactly id-kp-timeStamping")),
    }
}

fn check_imprint(imprint: &MessageImprint, expected: &Digest) -> Result<(), TimestampError> {
    let alg = &imprint.hash_algorithm;
    let params_ok = alg.parameters.as_ref().is_none_or(|p| p.is_null());
    if alg.oid != ID_SHA256 || !params_ok {
        return Err(TimestampError::ImprintAlgorithm { oid: alg.oid.to_string() });
    }
    if imprint.hashed_message.as_bytes() != expected.0 {
        return Err(TimestampError::ImprintMismatch {
            expected: *expected,
            found: hex::encode(imprint.hashed_message.as_bytes()),
        });
    }
    Ok(())
}

fn check_nonce(found: Option<&Int>, expected: u64) -> Result<(), TimestampError> {
    let matches = found.and_then(|nonce| nonce.to_der().ok()).is_some_and(|der| der == integer_der(expected));
    if matches {
        Ok(())
    } else {
        Err(TimestampError::NonceMismatch { expected, found: found.map(|nonce| format!("0x{}", integer_hex(nonce))) })
    }
}

// ---------------------------------------------------------------------------
// Signatures.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    fn from_oid(oid: ObjectIdentifier) -> Option<HashAlg> {
        match oid {
            ID_SHA256 => Some(HashAlg::Sha256),
            ID_SHA384 => Some(HashAlg::Sha384),
            ID_SHA512 => Some(HashAlg::Sha512),
            _ => None,
        }
    }

    fn from_algorithm(alg: &AlgorithmIdentifierOwned) -> Result<HashAlg, TimestampError> {
        HashAlg::from_oid(alg.oid)
            .ok_or_else(|| TimestampError::UnsupportedAlgorithm { what: "digest", oid: alg.oid.to_string() })
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashAlg::Sha256 => Sha256::digest(data).to_vec(),
            HashAlg::Sha384 => Sha384::digest(data).to_vec(),
            HashAlg::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn pkcs1v15(self) -> rsa::Pkcs1v15Sign {
        match self {
            HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
            HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
            HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<Sha512>(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    Ecdsa,
}

/// Verifies `signature` over `message` with `key`. `default_hash` is the CMS
/// digest algorithm, used when the signature algorithm names only the key
/// type (`rsaEncryption`, as OpenSSL writes in CMS). `Ok(false)` means the
/// signature is wrong; `Err` that it cannot even be checked.
fn verify_signature(
    key: &SubjectPublicKeyInfoOwned,
    signature_alg: &AlgorithmIdentifierOwned,
    default_hash: Option<HashAlg>,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, TimestampError> {
    let unsupported = |what, oid: ObjectIdentifier| TimestampError::UnsupportedAlgorithm { what, oid: oid.to_string() };
    let (kind, hash) = match signature_alg.oid {
        RSA_ENCRYPTION => (KeyKind::Rsa, default_hash),
        SHA256_WITH_RSA => (KeyKind::Rsa, Some(HashAlg::Sha256)),
        SHA384_WITH_RSA => (KeyKind::Rsa, Some(HashAlg::Sha384)),
        SHA512_WITH_RSA => (KeyKind::Rsa, Some(HashAlg::Sha512)),
        ID_EC_PUBLIC_KEY => (KeyKind::Ecdsa, default_hash),
        ECDSA_WITH_SHA256 => (KeyKind::Ecdsa, Some(HashAlg::Sha256)),
        ECDSA_WITH_SHA384 => (KeyKind::Ecdsa, Some(HashAlg::Sha384)),
        ECDSA_WITH_SHA512 => (KeyKind::Ecdsa, Some(HashAlg::Sha512)),
        other => return Err(unsupported("signature", other)),
    };
    let hash = hash.ok_or_else(|| unsupported("signature", signature_alg.oid))?;
    let hashed = hash.hash(message);
    let key_bytes = key.subject_public_key.as_bytes().ok_or_else(|| unsupported("public key", key.algorithm.oid))?;

    match (kind, key.algorithm.oid) {
        (KeyKind::Rsa, RSA_ENCRYPTION) => {
            use rsa::pkcs1::DecodeRsaPublicKey as _;
            let key = rsa::RsaPublicKey::from_pkcs1_der(key_bytes)
                .map_err(|_| unsupported("public key (unusable RSA key)", key.algorithm.oid))?;
            Ok(key.verify(hash.pkcs1v15(), &hashed, signature).is_ok())
        }
        (KeyKind::Ecdsa, ID_EC_PUBLIC_KEY) => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
            let curve = key.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if curve != Some(PRIME256V1) {
                let oid = curve.unwrap_or(key.algorithm.oid);
                return Err(unsupported("elliptic curve", oid));
            }
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                .map_err(|_| unsupported("public key (invalid P-256 point)", PRIME256V1))?;
            let Ok(signature) = p256::ecdsa::Signature::from_der(signature) else {
                return Ok(false);
            };
            Ok(key.verify_prehash(&hashed, &signature).is_ok())
        }
        (_, key_oid) => Err(unsupported("public key (for this signature)", key_oid)),
    }
}

// ---------------------------------------------------------------------------
// Trust.

/// Checks that the token's signer certificate chains, through certificates
/// carried in the token, to one of `trusted_roots` (DER), with every link's
/// signature verified and every certificate valid at the stamped time.
///
/// Validity is judged at `gen_time`, not now: a token stays good evidence
/// after its TSA certificate expires, which is the point of time-stamping.
pub fn verify_chain(info: &TokenInfo, trusted_roots: &[Vec<u8>]) -> Result<(), TimestampError> {
    let roots = trusted_roots
        .iter()
        .enumerate()
        .map(|(index, der)| {
            Certificate::from_der(der).map_err(|e| TimestampError::BadTrustedRoot { index, detail: e.to_string() })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pool = info
        .certificates
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TimestampError::BadChainCertificate(e.to_string()))?;
    let mut current = info
        .certificates
        .iter()
        .position(|der| Digest::of(der) == info.signer_cert_sha256)
        .and_then(|i| pool.get(i))
        .ok_or(TimestampError::SignerCertificateMissing)?;

    for _ in 0..MAX_CHAIN {
        check_valid_at(current, info.gen_time)?;
        if roots.contains(current) {
            return Ok(());
        }
        // A trusted root that signed `current` ends the chain.
        let mut bad_signature = false;
        for root in roots.iter().filter(|root| issued(root, current)) {
            if verify_cert_signature(current, root)? {
                check_is_ca(root)?;
                return check_valid_at(root, info.gen_time);
            }
            bad_signature = true;
        }
        // Otherwise climb through an intermediate the token carries.
        let mut next = None;
        for candidate in pool.iter().filter(|c| *c != current && issued(c, current)) {
            if verify_cert_signature(current, candidate)? {
                next = Some(candidate);
                break;
            }
            bad_signature = true;
        }
        let tbs = &current.tbs_certificate;
        match next {
            Some(issuer) => {
                check_is_ca(issuer)?;
                current = issuer;
            }
            None if bad_signature => {
                return Err(TimestampError::ChainSignature {
                    subject: tbs.subject.to_string(),
                    issuer: tbs.issuer.to_string(),
                })
            }
            None if tbs.subject == tbs.issuer => {
                return Err(TimestampError::UntrustedRoot { subject: tbs.subject.to_string() })
            }
            None => {
                return Err(TimestampError::Untrusted {
                    subject: tbs.subject.to_string(),
                    issuer: tbs.issuer.to_string(),
                })
            }
        }
    }
    Err(TimestampError::ChainTooLong)
}

fn issued(issuer: &Certificate, cert: &Certificate) -> bool {
    issuer.tbs_certificate.subject == cert.tbs_certificate.issuer
}

fn verify_cert_signature(cert: &Certificate, issuer: &Certificate) -> Result<bool, TimestampError> {
    let tbs = cert.tbs_certificate.to_der().map_err(|e| TimestampError::BadChainCertificate(e.to_string()))?;
    let Some(signature) = cert.signature.as_bytes() else {
        return Ok(false);
    };
    verify_signature(&issuer.tbs_certificate.subject_public_key_info, &cert.signature_algorithm, None, &tbs, signature)
}

fn check_valid_at(cert: &Certificate, at: DateTime<Utc>) -> Result<(), TimestampError> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    let at_secs = at.timestamp();
    let valid = i128::from(not_before) <= i128::from(at_secs) && i128::from(at_secs) <= i128::from(not_after);
    if valid {
        Ok(())
    } else {
        Err(TimestampError::NotValidAt {
            subject: cert.tbs_certificate.subject.to_string(),
            gen_time: at,
            not_before: validity.not_before.to_string(),
            not_after: validity.not_after.to_string(),
        })
    }
}

fn check_is_ca(cert: &Certificate) -> Result<(), TimestampError> {
    match extension::<BasicConstraints>(cert, ID_CE_BASIC_CONSTRAINTS) {
        Ok(Some((_, constraints))) if constraints.ca => Ok(()),
        _ => Err(TimestampError::NotCa { subject: cert.tbs_certificate.subject.to_string() }),
    }
}

/// Reads every `CERTIFICATE` block of a PEM file (such as a TSA's CA bundle)
/// as DER. Text between the blocks is ignored, as OpenSSL does; a file with
/// no certificate, or a block that is not one, is an error.
pub fn certs_from_pem(pem: &[u8]) -> Result<Vec<Vec<u8>>, TimestampError> {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";

    let text = std::str::from_utf8(pem).map_err(|_| TimestampError::Pem("the file is not text".into()))?;
    let mut certs = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = rest.get(start + BEGIN.len()..).unwrap_or_default();
        let end = after
            .find(END)
            .ok_or_else(|| TimestampError::Pem(format!("certificate #{} has no END line", certs.len() + 1)))?;
        let body: String = after.get(..end).unwrap_or_default().chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| TimestampError::Pem(format!("certificate #{}: {e}", certs.len() + 1)))?;
        Certificate::from_der(&der)
            .map_err(|e| TimestampError::Pem(format!("certificate #{}: {e}", certs.len() + 1)))?;
        certs.push(der);
        rest = after.get(end + END.len()..).unwrap_or_default();
    }
    if certs.is_empty() {
        return Err(TimestampError::Pem("no CERTIFICATE block found".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The hand-written request must be a `TimeStampReq` a DER decoder reads
    /// back field for field.
    #[derive(Sequence)]
    struct TimeStampReq {
        version: u8,
        message_imprint: MessageImprint,
        req_policy: Option<ObjectIdentifier>,
        nonce: Option<Int>,
        cert_req: bool,
    }

    #[test]
    fn query_der_round_trips() {
        let digest = Digest::of(b"checkpoint");
        for nonce in [0, 1, 0x7f, 0x80, 0xff, 0x1234, u64::MAX >> 1, u64::MAX] {
            let der = query_der(&digest, nonce);
            let req = TimeStampReq::from_der(&der).expect("query decodes");
            assert_eq!(req.version, 1);
            assert_eq!(req.message_imprint.hash_algorithm.oid, ID_SHA256);
            assert_eq!(req.message_imprint.hashed_message.as_bytes(), digest.0);
            assert!(req.req_policy.is_none());
            assert!(req.cert_req);
            let found = req.nonce.expect("nonce present");
            check_nonce(Some(&found), nonce).expect("nonce matches");
            assert!(check_nonce(Some(&found), nonce ^ 1).is_err());
        }
    }

    #[test]
    fn generalized_time_forms() {
        let t = parse_generalized_time(b"20261122195210Z").expect("plain");
        assert_eq!(t.to_rfc3339(), "2026-11-22T19:52:10+00:00");
        let t = parse_generalized_time(b"20261122195210.25Z").expect("fraction");
        assert_eq!(t.timestamp_subsec_millis(), 250);
        for bad in [
            &b""[..],
            b"2026112219521Z",
            b"20261122195210",
            b"20261122195210.Z",
            b"20261322195210Z",
            b"2026112219521aZ",
            b"20261122195210+0100",
            b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffZ",
        ] {
            assert!(parse_generalized_time(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn rejection_response_is_reported() {
        // TimeStampResp { status { rejection, "no", failInfo badAlg } }
        let der =
            [0x30, 0x0f, 0x30, 0x0d, 0x02, 0x01, 0x02, 0x30, 0x04, 0x0c, 0x02, b'n', b'o', 0x03, 0x02, 0x07, 0x80];
        let err = token_from_response(&der).expect_err("rejected");
        assert_eq!(err.check(), "tsa-status");
        let text = err.to_string();
        assert!(text.contains("rejection (2)"), "{text}");
        assert!(text.contains("\"no\""), "{text}");
        assert!(text.contains("badAlg"), "{text}");
    }

    #[test]
    fn pem_reading_refuses_garbage() {
        assert!(certs_from_pem(b"").is_err());
        assert!(certs_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
        assert!(certs_from_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_token_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let token = TimestampToken::from_der(bytes.clone());
            prop_assert!(token.verify(&Digest::of(b"x"), Some(1)).is_err());
            let _ = token_from_response(&bytes);
            let _ = certs_from_pem(&bytes);
        }

        #[test]
        fn der_shaped_bytes_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..300),
            tag in prop_oneof![Just(0x30u8), Just(0x31), Just(0xa0), any::<u8>()],
        ) {
            // A plausible outer TLV gets the fuzz past the first length check.
            let mut bytes = vec![tag, 0x82, (body.len() >> 8) as u8, body.len() as u8];
            bytes.extend_from_slice(&body);
            let _ = TimestampToken::from_der(bytes.clone()).verify(&Digest::of(b"x"), None);
            let _ = token_from_response(&bytes);
        }
    }
}
