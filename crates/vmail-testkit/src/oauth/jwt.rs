//! The JWT bearer grant (RFC 7523, as Google's service accounts use it):
//! the assertion is checked here, and tests sign theirs with
//! [`sign_assertion`] and the throwaway keys below.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::ServiceError;

/// A throwaway RSA key (PKCS#8 PEM) for service-account tests: it signs
/// assertions that a client registered with [`TEST_RSA_PUBLIC_KEY_PEM`]
/// accepts. Made for these tests only; it protects nothing.
pub const TEST_RSA_PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDYPpCQ+tl+T6vu\n\
opc9MbSvr95E5Kuq4dWqxwLhC1F5oBi3TF+Bvfoov3OojvYcrVduJ35BFDvJ9zx0\n\
ET8yp1SqjTB1W7hcs0Wh9vwpNctBBRAZLHoGjwI43KHZC5jtqglhKXmlMrloRbbS\n\
YY1c4y1BLIEFlnbO0XV6YNdmc5z+bm/lvM5incAHyiKlvLoDXFdt85AUb16PySe7\n\
hx2NpzPKOQwmfhGVtWfYzXqfubfJzkW+qQKFnaBNCU7iGBH1Dipru+TBQpmkE7rq\n\
QGHBu2nIQGANPk+89mtMjHaHRQBZB8aGAeGvPYjt3JPOpvtb/6vwQCkhne+KWKc6\n\
2wRdEQ3dAgMBAAECggEAK1cGxHfyRVWUgQSHSVWAAEJASxCFs38Fwu+WDSKmlrjW\n\
m04sSiWYULhmZt8YRpEbV9GEhWiXvxfVPvIB95X/6xrXHn5eif3IM/j7ewr0DLkG\n\
C/WVE2FwMZNOwOCJKwEMVjPo1IpBDLwEM1An8/j4JfrUdRk+AJ+MaxWjtj3vtjJv\n\
2pdD8K4TlyqO+/W+d1MPmtOxxBbLI8SCUG50g6w56P02/JrSMspI41X+WakfsO9C\n\
6PawqaVdQllUtO1bsqfFDygouU5pOPMxcgITMu1Mba7IRUXod4chOLzVuyCPfWcd\n\
8TMu1a9ZyztxxywHEL2taLlMKRA/rexzxRsWIX6U4QKBgQDuZgwIXjv2iUELrO9Z\n\
c9MTLM7VDXsyNTTtMvsYHTQaFPwcvBwP+ZLsp6GAeh7Y6LGwf5oIrFhGAvjEGoT2\n\
GyS8zln2RUtvDLARoe553X6G82VKLKiv862MBxTO+ugFuaH+j4Hy+uk3+r1aO7xX\n\
M9HqmHZ82+p6nRNzPkBdBEgyqQKBgQDoNchOlYDoPqALwUzfNG4ZW/6nvILLxTcV\n\
stg1V8zIGXji/Ajh/D/g1uCYpUYuGs1+9wgVdZlWKb0kyKoxMUGqIePkhA0aCZKV\n\
0+CHapxwLDSagUt4WYSTG3wqwU/FtU/ZJZW9sJppfuEmOla1SwgeB3TB9R8puzy2\n\
ISaHN1N2FQKBgGaGupwKsu0XIEM+L32gA2HWvmkAMEBqg4WTjEtVm+evqLFO8R6p\n\
rddbTGitnICaqniGmB8sx5Xsh0IHSbFyAP22HRh9urBam4opwx7j9Btjp+cbh7yM\n\
JtH25asSWyDDMfkBjNiLsisiCbc5w4kZPykOQr718USkMw438oROaCJpAoGAQmcm\n\
2boM+9z0vYfQaL/AgEX7Y5IXwRercewLwe1SpSILnLVAAQe2aKBp55zTndmSTC1u\n\
RVy0tZwH953edWTFh1ZbqfxNFtYH8gp92ZuWEsnBXTF+GHNY4wxoDH3tRvdbVxhV\n\
YsI+1c4vqlPiecN0FcpCDDkBaVieuuJt9xrOJiUCgYAJAFPb8Q5NNma3Rdy7f5sm\n\
jLPBkV9jyusi1W8ZcatGrXO7JWGjaHHZzSdxD4YR5g1FMFlayAd53qFsCckBRtPW\n\
QPT7pBcyJAv4fSwLdyNlmVslLti50p6EukpCPAOteKB658n9j2qTC+krZ6z5Bzfl\n\
O6xhXhZvuM9Tz/Fu7uv6AA==\n\
-----END PRIVATE KEY-----\n\
";

/// The public half of [`TEST_RSA_PRIVATE_KEY_PEM`] (SPKI PEM).
pub const TEST_RSA_PUBLIC_KEY_PEM: &str = "\
-----BEGIN PUBLIC KEY-----\n\
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2D6QkPrZfk+r7qKXPTG0\n\
r6/eROSrquHVqscC4QtReaAYt0xfgb36KL9zqI72HK1Xbid+QRQ7yfc8dBE/MqdU\n\
qo0wdVu4XLNFofb8KTXLQQUQGSx6Bo8CONyh2QuY7aoJYSl5pTK5aEW20mGNXOMt\n\
QSyBBZZ2ztF1emDXZnOc/m5v5bzOYp3AB8oipby6A1xXbfOQFG9ej8knu4cdjacz\n\
yjkMJn4RlbVn2M16n7m3yc5FvqkChZ2gTQlO4hgR9Q4qa7vkwUKZpBO66kBhwbtp\n\
yEBgDT5PvPZrTIx2h0UAWQfGhgHhrz2I7dyTzqb7W/+r8EApIZ3vilinOtsEXREN\n\
3QIDAQAB\n\
-----END PUBLIC KEY-----\n\
";

/// Another throwaway key: assertions it signs must be refused by a client
/// registered with [`TEST_RSA_PUBLIC_KEY_PEM`] (a wrong or rotated key).
pub const OTHER_RSA_PRIVATE_KEY_PEM: &str = "\
-----BEGIN PRIVATE KEY-----\n\
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDkxX3SxW0qQoZF\n\
Ey1W+PNsJa8Brgn+Iadhh0/9h90BN28DWIRrAlmc9iIOdu70YlZ6wvI9EwQOb8L3\n\
MPwZmsEOwa6PE0WDUzi7QDvYKUkjBiKK0BCiiQaJLq8l6WFDHUs0Ov94exFE6PWK\n\
O636vbAqf4XdRvJtmheWqGAbGMpSMTnijufgQrNuQh2nbfimSFGnRobVk8teXe9q\n\
MaU6RWfnZWJJ6Ww83qKYEyy4D02YsHLtdtcCoyASm/KGmpMWFa/R6jOhP3cEG+yT\n\
rpf+6budWmttGHewBt1QIedsSh3M03LXgYDJa7JsVRdHyAKkWK1oAx0QtOsrJBX2\n\
vPyEL6uvAgMBAAECggEAFrl/bCZsV5xQFiB3ioIkPAPqRHJzT6ksJUX5rieGzo4h\n\
GuX6EV8kY7EXZPRvfBsgmAUxZtuytXRom4FkKW7z6nFW06OIbikgI4mX6DsBptb/\n\
K2bLoDmYSpw2jb+HB9GrHL8XjXI8Huo9KcQP3i5lh3MvavGXN0ftO+vxz/9AabWG\n\
AZs0eWBXPRcty4LceLeIZ01fys7iPSIUMJILub9Uzl2fQ4LCnMeusQZScmykIQn1\n\
vbscl2UXQdXJbBQ+flqtH8ph4RvEXgz5NP5/dysR0SayFa6zWj/5p2Ff4ZU0m7+p\n\
vICuv8qQUiPO+vqEEoD932RdqYkwNPYIdketU6YWcQKBgQD3KmYGhEZIo8ouaqP7\n\
c0d52wRAeu/g9yO3/crVDE0SqcIScdIjQVtpL2SBMvP8jLJc31Om8VvyL8dWvY3U\n\
6IqIVYpZXfv5/GIXd3NQiYm5HsZKvIF1i+wP6+Nkj0T5qhEJmmm4Oc2fMn/n99Vy\n\
eL0o3ypuKBK964VuFZ72wEEuIwKBgQDs8sicmRBKfSQPiOULc36i1bSWGKC6gXvB\n\
0ZzVOJ/pHIKb2japL/WZfT+Pkgp2z4IvPBz2PboPBQBdvLcSiz8LE1HdvkiK4SKz\n\
IrE7wMcULn6brkc35igE3SormtWNLBueUdbtle+1Iow73XSbJBgU6ulQsScuV/3D\n\
oT/bUmL3BQKBgEmOpK5rzz7u/8ywj/zVYgAx3iISdDFPW6H2NdcRwh47xzYWCaPU\n\
X4/+Orr4nwQaGzroe8zDJ8n7zidSYlNqoU/RpUrTXZoYMlkpg3gEdqhRMFItp5mD\n\
+s0CNrpGqRBkPI3PFodtLHSkYsx2RV+77w+q2sXNx0YeQadxZ82nib5hAoGBAMCa\n\
uSdR5EQoZN+bz1L3lsCWJiy76Cqyhf6OfIV1ecbrPd+iCTyNl34kqT3y4D6jfpcW\n\
rhQbKNp8nkeT1txkA+Lk2W799cmuJ56lXJvNoAVvpcq2Z32wwGbzwAuh2GTgrbKL\n\
o8GMV0VNx+ABq39QX6LhMLY+yjKJo+UZdea5mWhhAoGBAI2OXb4768Rustg13D7i\n\
n/MgtfzOF2R4dzW+ADAIpJkci2RuX8UIDdW/QTmHas+b2ydv+ZzKf0QtkjjG5GXV\n\
IfQ4H8gE+bCCXIIojM8tSfmtPO76WhGvunotgwCL6bHNMO7s3GuVDEUD6Fs6cC8o\n\
PXWYXlPWvMtu0dqUHvGTCoyf\n\
-----END PRIVATE KEY-----\n\
";

/// The claims of a Google-style service-account assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssertionClaims {
    /// The service account (the registered client id).
    pub iss: String,
    /// The mailbox to act for (domain-wide delegation).
    pub sub: String,
    /// The token URL the assertion is sent to.
    pub aud: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub iat: u64,
    pub exp: u64,
}

impl AssertionClaims {
    /// Claims issued now and valid for `lifetime` (Google allows an hour).
    pub fn new(iss: &str, sub: &str, aud: &str, scope: Option<&str>, lifetime: Duration) -> Self {
        let now = unix_now();
        AssertionClaims {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            aud: aud.to_owned(),
            scope: scope.map(str::to_owned),
            iat: now,
            exp: now + lifetime.as_secs(),
        }
    }
}

/// An RS256 assertion over `claims`, signed with a PKCS#8 or PKCS#1 PEM key.
pub fn sign_assertion(
    private_key_pem: &str,
    claims: &AssertionClaims,
) -> Result<String, ServiceError> {
    let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
        .map_err(|e| ServiceError::Key(e.to_string()))?;
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key)
        .map_err(|e| ServiceError::Key(e.to_string()))
}

/// Whether a PEM is an RSA public key the grant can check signatures with.
pub(crate) fn check_public_key(pem: &str) -> Result<(), ServiceError> {
    DecodingKey::from_rsa_pem(pem.as_bytes())
        .map(|_| ())
        .map_err(|e| ServiceError::Key(format!("not an RSA public key in PEM: {e}")))
}

/// The `iss` of an assertion, read without checking anything: only to find
/// the client whose key then checks it.
pub(crate) fn unverified_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("iss")?.as_str().map(str::to_owned)
}

/// Why an assertion was refused, in Google's words (`invalid_grant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused(pub String);

/// Checks the signature (RS256 with `public_key_pem`), `iss`, `aud`, `exp`
/// (no leeway: tests make expired assertions on purpose) and that `sub` is
/// present; the caller compares `sub` with the mailbox.
pub(crate) fn verify_assertion(
    assertion: &str,
    public_key_pem: &str,
    issuer: &str,
    audience: &str,
) -> Result<AssertionClaims, Refused> {
    let key = DecodingKey::from_rsa_pem(public_key_pem.as_bytes())
        .map_err(|e| Refused(format!("the registered key is unusable: {e}")))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 0;
    validation.set_audience(&[audience]);
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(e) => Err(Refused(
            match e.kind() {
                ErrorKind::InvalidSignature => "Invalid JWT Signature.".to_owned(),
                ErrorKind::ExpiredSignature => "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.".to_owned(),
                ErrorKind::InvalidAudience => format!("Invalid JWT: aud must be {audience}"),
                ErrorKind::InvalidIssuer => "Invalid JWT: iss is not the service account".to_owned(),
                ErrorKind::InvalidAlgorithm => "Invalid JWT: alg must be RS256".to_owned(),
                ErrorKind::MissingRequiredClaim(claim) => format!("Invalid JWT: no {claim} claim"),
                other => format!("Invalid JWT: {other:?}"),
            },
        )),
    }
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
