//! RFC 3161 time-stamping against a real TSA (OpenSSL's `ts -reply`), for
//! RSA and P-256 keys, cross-checked with `openssl ts -verify`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a failure here is a failed test

#[path = "support/tsa.rs"]
mod tsa;

use std::fs;

use chrono::Utc;
use evidence::timestamp::{
    certs_from_pem, query_der, token_from_response, verify_chain, TimestampError, TimestampToken, TokenInfo,
};
use evidence::Digest;
use tsa::{make_root_ca, openssl, post_query, KeyKind, TestTsa, TEST_CA_CN, TEST_POLICY};

const KINDS: [KeyKind; 2] = [KeyKind::Rsa, KeyKind::EcP256];

fn checkpoint(label: &str) -> Digest {
    Digest::of(format!("checkpoint {label}").as_bytes())
}

/// Asks `tsa` to stamp `digest` and returns the (unverified) token.
fn stamp(tsa: &TestTsa, digest: &Digest, nonce: u64) -> TimestampToken {
    let response = post_query(&tsa.url, &query_der(digest, nonce));
    token_from_response(&response).expect("the test TSA grants the request")
}

fn pem_certs(path: &std::path::Path) -> Vec<Vec<u8>> {
    certs_from_pem(&fs::read(path).expect("read PEM")).expect("PEM holds certificates")
}

fn verified(tsa: &TestTsa, label: &str) -> (TimestampToken, Digest, TokenInfo) {
    let digest = checkpoint(label);
    let nonce = rand::random::<u64>();
    let token = stamp(tsa, &digest, nonce);
    let info = token.verify(&digest, Some(nonce)).unwrap_or_else(|e| panic!("{:?} token should verify: {e}", tsa.kind));
    (token, digest, info)
}

fn expect_check(result: Result<TokenInfo, TimestampError>, check: &str, context: &str) {
    match result {
        Ok(_) => panic!("{context}: verified, expected the {check} check to fail"),
        Err(e) => assert_eq!(e.check(), check, "{context}: {e}"),
    }
}

/// Runs `openssl <words>` in the TSA's directory (no argument has spaces).
fn sh(tsa: &TestTsa, words: &str) -> std::process::Output {
    openssl(tsa.dir(), &words.split_whitespace().collect::<Vec<_>>())
}

/// What a third party runs (FORMAT.md): `openssl ts -verify` of a token
/// file against a digest (`-digest <hex>`) or the data (`-data <file>`) and
/// the TSA's CA file.
fn openssl_verify(tsa: &TestTsa, how: &str, what: &str, token: &str) -> std::process::Output {
    let ca = tsa.ca_pem.display();
    sh(tsa, &format!("ts -verify {how} {what} -in {token} -token_in -CAfile {ca}"))
}

#[test]
fn a_fresh_token_verifies_and_says_what_it_vouches() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let (token, digest, info) = verified(&tsa, "fresh");

        let age = (Utc::now() - info.gen_time).num_seconds().abs();
        assert!(age < 60, "{kind:?}: gen_time {} is {age}s from now", info.gen_time);
        assert_eq!(info.policy, TEST_POLICY);
        assert!(info.signer_subject.contains("CN=spotcheck test TSA"), "{}", info.signer_subject);
        let tsa_cert = pem_certs(&tsa.tsa_cert_pem).remove(0);
        assert_eq!(info.signer_cert_sha256, Digest::of(&tsa_cert));
        assert!(info.certificates.contains(&tsa_cert));
        assert!(!info.serial.is_empty() && info.serial.bytes().all(|b| b.is_ascii_hexdigit()));
        let tsa_name = info.tsa_name.as_deref().unwrap_or_default();
        assert!(tsa_name.contains("spotcheck test TSA"), "{kind:?}: tsa name {tsa_name:?}");

        // Without a nonce to compare, the same token still verifies.
        assert!(token.verify(&digest, None).is_ok());

        // The report form carries no certificate blobs.
        let json = serde_json::to_value(&info).expect("serialize");
        assert_eq!(json["signer_cert_sha256"], info.signer_cert_sha256.to_hex());
        assert_eq!(json["policy"], TEST_POLICY);
        assert!(json.get("certificates").is_none());
    }
}

#[test]
fn the_token_is_kept_byte_for_byte_as_the_tsa_sent_it() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let digest = checkpoint("bytes");
        let response = post_query(&tsa.url, &query_der(&digest, 7));
        let token = token_from_response(&response).expect("granted");
        fs::write(tsa.dir().join("resp.tsr"), &response).expect("write response");
        sh(&tsa, "ts -reply -in resp.tsr -token_out -out token-openssl.der");
        let openssl_token = fs::read(tsa.dir().join("token-openssl.der")).expect("token_out");
        assert_eq!(token.as_der(), openssl_token.as_slice(), "{kind:?}");
    }
}

#[test]
fn the_chain_is_trusted_only_to_the_right_root() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let (_, _, info) = verified(&tsa, "chain");
        let test_ca = pem_certs(&tsa.ca_pem);
        verify_chain(&info, &test_ca).unwrap_or_else(|e| panic!("{kind:?}: {e}"));

        let other = make_root_ca(tsa.dir(), "other", "some other root CA", kind);
        let err = verify_chain(&info, &pem_certs(&other)).expect_err("unrelated CA");
        assert_eq!(err.check(), "chain-trust", "{kind:?}: {err}");

        // Same name as the real CA, different key: the link's signature fails.
        let impostor = make_root_ca(tsa.dir(), "impostor", TEST_CA_CN, kind);
        let err = verify_chain(&info, &pem_certs(&impostor)).expect_err("impostor CA");
        assert_eq!(err.check(), "chain-signature", "{kind:?}: {err}");
        let mut both = pem_certs(&impostor);
        both.extend(test_ca.clone());
        verify_chain(&info, &both).unwrap_or_else(|e| panic!("{kind:?}: {e}"));

        // Certificates are judged at the stamped time, which must fall
        // inside their validity.
        let mut late = info.clone();
        late.gen_time = info.gen_time + chrono::Duration::days(365 * 20);
        let err = verify_chain(&late, &test_ca).expect_err("after expiry");
        assert_eq!(err.check(), "chain-validity", "{kind:?}: {err}");

        let err = verify_chain(&info, &[b"not a certificate".to_vec()]).expect_err("junk");
        assert_eq!(err.check(), "trusted-root");
    }
}

#[test]
fn a_token_for_another_digest_fails_the_imprint_check() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let (token, _, _) = verified(&tsa, "imprint");
        let result = token.verify(&checkpoint("something else"), None);
        let err = result.as_ref().expect_err("other digest");
        assert!(err.to_string().starts_with("timestamp token: message imprint does not match the checkpoint"), "{err}");
        expect_check(result, "imprint", &format!("{kind:?}"));
    }
}

#[test]
fn a_wrong_nonce_fails() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let digest = checkpoint("nonce");
        let token = stamp(&tsa, &digest, 0x8000_0000_0000_0001);
        assert!(token.verify(&digest, Some(0x8000_0000_0000_0001)).is_ok());
        expect_check(token.verify(&digest, Some(2)), "nonce", &format!("{kind:?}"));
    }
}

/// The offset just after the first occurrence of `needle` in `haystack`.
fn after(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + needle.len())
        .unwrap_or_else(|| panic!("{needle:02x?} not found in the token"))
}

fn flipped(token: &TimestampToken, at: usize, mask: u8) -> TimestampToken {
    let mut bytes = token.as_der().to_vec();
    bytes[at] ^= mask;
    TimestampToken::from_der(bytes)
}

/// DER of the OIDs whose attribute values the tampering test aims at.
const OID_MESSAGE_DIGEST: &[u8] = &[6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 4];
const OID_SIGNING_TIME: &[u8] = &[6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 5];
const OID_TSTINFO: &[u8] = &[6, 11, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 9, 16, 1, 4];

#[test]
fn tampering_is_detected() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let (token, digest, _) = verified(&tsa, "tamper");
        let der = token.as_der();
        let ctx = format!("{kind:?}");

        // (a) The TSTInfo: its genTime, in the eContent after id-ct-TSTInfo.
        let tst_start = after(der, OID_TSTINFO);
        let gen_time = tst_start + after(&der[tst_start..], &[0x18, 15]);
        let result = flipped(&token, gen_time + 13, 0x01).verify(&digest, None);
        expect_check(result, "message-digest", &format!("{ctx} genTime"));
        // ... and the imprint inside it.
        let imprint = tst_start + after(&der[tst_start..], &digest.0[..8]);
        let result = flipped(&token, imprint, 0x01).verify(&digest, None);
        expect_check(result, "message-digest", &format!("{ctx} imprint"));

        // (b) The signature: SignerInfo is last and OpenSSL adds no unsigned
        // attributes, so the token's last byte is the signature's.
        let result = flipped(&token, der.len() - 1, 0x01).verify(&digest, None);
        expect_check(result, "signature", &format!("{ctx} signature"));

        // (c) Signed attributes: the message-digest value, and the
        // signing-time, which only the signature protects.
        let md = after(der, OID_MESSAGE_DIGEST) + 4;
        let result = flipped(&token, md, 0x01).verify(&digest, None);
        expect_check(result, "message-digest", &format!("{ctx} message-digest attribute"));
        let signing_time = after(der, OID_SIGNING_TIME) + 4;
        let result = flipped(&token, signing_time + 11, 0x01).verify(&digest, None);
        expect_check(result, "signature", &format!("{ctx} signing-time attribute"));
    }
}

/// Every single-bit flip anywhere in the token either fails or leaves what
/// the token vouches for unchanged (it hit bytes no check covers, such as
/// the CA certificate the token carries along) — and none panics.
#[test]
fn no_bit_flip_changes_what_a_token_vouches() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let (token, digest, info) = verified(&tsa, "flips");
        for at in 0..token.as_der().len() {
            for mask in [0x01, 0x80] {
                if let Ok(found) = flipped(&token, at, mask).verify(&digest, None) {
                    assert_eq!(
                        (found.gen_time, &found.serial, &found.policy, found.signer_cert_sha256),
                        (info.gen_time, &info.serial, &info.policy, info.signer_cert_sha256),
                        "{kind:?}: flip {mask:#x} at {at} verified with different content"
                    );
                }
            }
        }
    }
}

#[test]
fn every_truncation_fails_cleanly() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let digest = checkpoint("truncate");
        let response = post_query(&tsa.url, &query_der(&digest, 1));
        let token = token_from_response(&response).expect("granted");
        token.verify(&digest, Some(1)).expect("whole token verifies");
        let der = token.as_der();
        for len in 0..der.len() {
            let cut = TimestampToken::from_der(der[..len].to_vec());
            assert!(cut.verify(&digest, Some(1)).is_err(), "{kind:?}: {len} bytes verified");
        }
        for len in 0..response.len() {
            let result = token_from_response(&response[..len]);
            assert!(result.is_err(), "{kind:?}: response cut to {len} bytes parsed");
        }
        // Trailing bytes are refused too.
        let mut longer = der.to_vec();
        longer.push(0);
        expect_check(TimestampToken::from_der(longer).verify(&digest, None), "token-format", "trailing byte");
    }
}

#[test]
fn a_rejection_is_reported_as_such() {
    let tsa = TestTsa::start(KeyKind::EcP256);
    // SHA-1 is not among the test TSA's accepted digests: OpenSSL answers
    // with a signed-off rejection, not an HTTP error.
    let digest = "00112233445566778899aabbccddeeff00112233";
    sh(&tsa, &format!("ts -query -sha1 -digest {digest} -cert -out sha1.tsq"));
    let query = fs::read(tsa.dir().join("sha1.tsq")).expect("openssl wrote the query");
    let response = post_query(&tsa.url, &query);
    let err = token_from_response(&response).expect_err("a SHA-1 query is rejected");
    assert_eq!(err.check(), "tsa-status", "{err}");
    let text = err.to_string();
    assert!(text.contains("rejection (2)"), "{text}");
    assert!(text.contains("badAlg"), "{text}");

    // Bytes that are not a query: OpenSSL answers with a rejection too.
    let response = post_query(&tsa.url, b"not a query");
    let err = token_from_response(&response).expect_err("junk query");
    assert_eq!(err.check(), "tsa-status", "{err}");
    assert!(err.to_string().contains("badDataFormat"), "{err}");

    let err = token_from_response(b"not a response").expect_err("junk");
    assert_eq!(err.check(), "response-format");
}

/// Requests that are not even HTTP POSTs with a body get HTTP errors.
#[test]
fn the_test_tsa_refuses_malformed_http() {
    use std::io::{Read, Write};
    let tsa = TestTsa::start(KeyKind::EcP256);
    let authority = tsa.url.trim_start_matches("http://").split('/').next().unwrap_or("");
    let raw = |request: &str| {
        let mut stream = std::net::TcpStream::connect(authority).expect("connect");
        stream.write_all(request.as_bytes()).expect("send");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read");
        response
    };
    let response = raw("POST /tsa HTTP/1.0\r\nContent-Type: application/timestamp-query\r\n\r\n");
    assert!(response.starts_with("HTTP/1.0 400 "), "{response}");
    let response = raw("GET /tsa HTTP/1.0\r\n\r\n");
    assert!(response.starts_with("HTTP/1.0 405 "), "{response}");
    let response = raw("\r\n");
    assert!(response.starts_with("HTTP/1.0 400 "), "{response}");
    // The server is still answering after all that.
    let digest = checkpoint("after errors");
    let token = stamp(&tsa, &digest, 3);
    assert!(token.verify(&digest, Some(3)).is_ok());
}

/// What we accept, `openssl ts -verify` accepts, and the other way round for
/// a tampered token: the commands FORMAT.md gives a third party agree with us.
#[test]
fn openssl_agrees_with_our_verdicts() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let data = format!("ledger checkpoint for {kind:?}");
        let digest = Digest::of(data.as_bytes());
        let token = stamp(&tsa, &digest, 42);
        let info = token.verify(&digest, Some(42)).expect("we accept");
        verify_chain(&info, &pem_certs(&tsa.ca_pem)).expect("we trust the chain");

        fs::write(tsa.dir().join("token.der"), token.as_der()).expect("write token");
        fs::write(tsa.dir().join("data.bin"), &data).expect("write data");
        let out = openssl_verify(&tsa, "-digest", &digest.to_hex(), "token.der");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("OK"),
            "{kind:?}: openssl rejects a token we accept: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = openssl_verify(&tsa, "-data", "data.bin", "token.der");
        assert!(out.status.success(), "{kind:?}: -data");

        // Another digest: both refuse.
        assert!(token.verify(&checkpoint("other"), None).is_err());
        let other = checkpoint("other").to_hex();
        let out = openssl_verify(&tsa, "-digest", &other, "token.der");
        assert!(!out.status.success(), "{kind:?}: openssl accepts another digest");

        // A flipped signature byte: both refuse.
        let bad = flipped(&token, token.as_der().len() - 1, 0x01);
        assert!(bad.verify(&digest, None).is_err());
        fs::write(tsa.dir().join("bad.der"), bad.as_der()).expect("write token");
        let out = openssl_verify(&tsa, "-digest", &digest.to_hex(), "bad.der");
        assert!(!out.status.success(), "{kind:?}: openssl accepts a bad signature");
    }
}

#[test]
fn ca_files_are_read_with_surrounding_text() {
    let tsa = TestTsa::start(KeyKind::Rsa);
    let ca = fs::read_to_string(&tsa.ca_pem).expect("read CA");
    let tsa_cert = fs::read_to_string(&tsa.tsa_cert_pem).expect("read TSA cert");
    let bundle = format!("subject=test CA\n{ca}\n# and the TSA\n{tsa_cert}");
    let certs = certs_from_pem(bundle.as_bytes()).expect("two certificates");
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0], pem_certs(&tsa.ca_pem)[0]);
    assert!(certs_from_pem(b"no certificates here").is_err());
}

/// One real token per key type, stamped once for the property tests below
/// (the TSA is dropped as soon as it has answered).
fn sample(kind: KeyKind) -> &'static (TimestampToken, Digest) {
    use std::sync::OnceLock;
    static RSA: OnceLock<(TimestampToken, Digest)> = OnceLock::new();
    static EC: OnceLock<(TimestampToken, Digest)> = OnceLock::new();
    let cell = match kind {
        KeyKind::Rsa => &RSA,
        KeyKind::EcP256 => &EC,
    };
    cell.get_or_init(|| {
        let tsa = TestTsa::start(kind);
        let digest = checkpoint("sample");
        (stamp(&tsa, &digest, 9), digest)
    })
}

proptest::proptest! {
    #![proptest_config(proptest::test_runner::Config::with_cases(400))]

    /// Hostile edits of a real token (overwrites, cuts, insertions) never
    /// panic, and never make it vouch for something else.
    #[test]
    fn mutated_tokens_never_panic(
        rsa in proptest::bool::ANY,
        edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY, 0..3u8), 1..6),
    ) {
        let (token, digest) = sample(if rsa { KeyKind::Rsa } else { KeyKind::EcP256 });
        let original = token.verify(digest, Some(9)).expect("the sample verifies");
        let mut bytes = token.as_der().to_vec();
        for (at, value, op) in edits {
            let at = at % (bytes.len() + 1);
            match op {
                0 if at < bytes.len() => bytes[at] = value,
                1 => bytes.truncate(at),
                _ => bytes.insert(at, value),
            }
        }
        let mutated = TimestampToken::from_der(bytes.clone());
        if let Ok(found) = mutated.verify(digest, Some(9)) {
            proptest::prop_assert_eq!(found.gen_time, original.gen_time);
            proptest::prop_assert_eq!(found.serial, original.serial.clone());
            proptest::prop_assert_eq!(found.signer_cert_sha256, original.signer_cert_sha256);
        }
        let _ = token_from_response(&bytes);
    }
}

/// The length of the DER TLV starting at `at` (short or long length form).
fn tlv_len(der: &[u8], at: usize) -> usize {
    let first = der[at + 1] as usize;
    if first < 0x80 {
        return 2 + first;
    }
    let n = first & 0x7f;
    let len = der[at + 2..at + 2 + n].iter().fold(0, |acc, &b| acc << 8 | b as usize);
    2 + n + len
}

/// A CMS signature over a genuine TSTInfo is still not a time-stamp unless a
/// time-stamping certificate made it the RFC 3161 way: both we and OpenSSL
/// refuse one signed by the CA (no timeStamping usage) and one signed with
/// the TSA's own key by plain `openssl cms` (no ESS signing-certificate).
#[test]
fn tokens_signed_outside_a_tsa_are_refused() {
    for kind in KINDS {
        let tsa = TestTsa::start(kind);
        let (token, digest, _) = verified(&tsa, "forged");
        let der = token.as_der();
        // eContent [0] { OCTET STRING { TSTInfo } } follows id-ct-TSTInfo.
        let econtent = after(der, OID_TSTINFO);
        let octet_string = econtent + header_len(der, econtent);
        let tst = octet_string + header_len(der, octet_string);
        let tst_info = &der[tst..tst + tlv_len(der, tst)];
        fs::write(tsa.dir().join("tst.der"), tst_info).expect("write TSTInfo");

        // (signer certificate, `openssl cms` options, the check that fails)
        let forgeries = [
            ("ca.pem", "-inkey ca.key", "signer-eku"),
            ("tsa.pem", "-inkey tsa.key", "signed-attributes"),
            // Identified by subjectKeyIdentifier: found, then refused the same way.
            ("tsa.pem", "-inkey tsa.key -keyid", "signed-attributes"),
        ];
        for (signer, options, check) in forgeries {
            let sign = format!(
                "cms -sign -binary -nodetach -in tst.der -econtent_type 1.2.840.113549.1.9.16.1.4 \
                 -signer {signer} {options} -md sha256 -nosmimecap -outform DER -out forged.der"
            );
            assert!(sh(&tsa, &sign).status.success(), "{kind:?}: openssl cms -sign");
            let forged = fs::read(tsa.dir().join("forged.der")).expect("forged token");
            let result = TimestampToken::from_der(forged).verify(&digest, None);
            expect_check(result, check, &format!("{kind:?} signed by {signer} {options}"));
            let out = openssl_verify(&tsa, "-digest", &digest.to_hex(), "forged.der");
            assert!(!out.status.success(), "{kind:?}: openssl accepts a token signed by {signer}");
        }
    }
}

/// The length of the DER header (tag and length) at `at`.
fn header_len(der: &[u8], at: usize) -> usize {
    let first = der[at + 1] as usize;
    if first < 0x80 {
        2
    } else {
        2 + (first & 0x7f)
    }
}

/// SHA-384 and SHA-512 signatures (RSA under the bare rsaEncryption OID, as
/// OpenSSL writes it, and ECDSA with SHA-384/512), the ESS v2 attribute
/// with other digests, and the legacy SHA-1 ESS v1 attribute all verify,
/// and OpenSSL agrees.
#[test]
fn other_digest_choices_verify() {
    let choices = [("sha384", "sha384"), ("sha512", "sha512"), ("sha256", "sha1")];
    for kind in KINDS {
        for (signer_digest, ess_alg) in choices {
            let tsa = TestTsa::start_with(kind, signer_digest, ess_alg);
            let context = format!("{kind:?} {signer_digest}/{ess_alg}");
            let (token, digest, info) = verified(&tsa, &context);
            verify_chain(&info, &pem_certs(&tsa.ca_pem)).unwrap_or_else(|e| panic!("{context}: {e}"));
            let bad = flipped(&token, token.as_der().len() - 1, 0x01);
            expect_check(bad.verify(&digest, None), "signature", &context);

            fs::write(tsa.dir().join("token.der"), token.as_der()).expect("write token");
            let out = openssl_verify(&tsa, "-digest", &digest.to_hex(), "token.der");
            assert!(out.status.success(), "{context}: openssl refuses: {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}
