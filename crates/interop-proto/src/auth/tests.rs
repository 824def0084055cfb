use super::*;

fn expected<'a>(scope: Scope, authkey: Option<&'a [u8; 32]>) -> Expected<'a> {
    Expected { issuer: "example.org", audience: "gatekeeper", scope, authkey }
}

#[test]
fn sign_publish_verify() {
    let signer = JwtSigner::generate("k1");
    let authkey = [9u8; 32];
    let claims = Claims::new("example.org", "@alice:example.org", "gatekeeper", Scope::Enlist, 300)
        .with_authkey(&authkey);
    let token = signer.sign(&claims).unwrap();
    // JWKS travels as JSON
    let json = serde_json::to_string(&signer.jwks()).unwrap();
    assert!(json.contains("\"crv\":\"Ed25519\"") && json.contains("\"kid\":\"k1\""), "{json}");
    let jwks: JwkSet = serde_json::from_str(&json).unwrap();
    assert_eq!(verify(&token, &jwks, &expected(Scope::Enlist, Some(&authkey))).unwrap(), claims);
    assert!(matches!(
        verify(&token, &jwks, &expected(Scope::Push, None)),
        Err(AuthError::WrongScope { .. })
    ));
    assert!(matches!(
        verify(&token, &jwks, &expected(Scope::Enlist, Some(&[1; 32]))),
        Err(AuthError::AuthkeyMismatch)
    ));
    let other = Expected { issuer: "evil.org", ..expected(Scope::Enlist, None) };
    assert!(matches!(verify(&token, &jwks, &other), Err(AuthError::Jwt(_))));
    // a different key with the same kid
    let forged = JwtSigner::generate("k1").sign(&claims).unwrap();
    assert!(matches!(
        verify(&forged, &jwks, &expected(Scope::Enlist, None)),
        Err(AuthError::Jwt(_))
    ));
    let unknown = JwtSigner::generate("k2").sign(&claims).unwrap();
    assert!(matches!(
        verify(&unknown, &jwks, &expected(Scope::Enlist, None)),
        Err(AuthError::UnknownKid(_))
    ));
    assert!(verify("not.a.jwt", &jwks, &expected(Scope::Enlist, None)).is_err());
    // restore from seed gives the same key
    let again = JwtSigner::from_seed("k1", *signer.seed());
    assert_eq!(
        verify(&again.sign(&claims).unwrap(), &jwks, &expected(Scope::Enlist, None)).unwrap(),
        claims
    );
    assert!(!format!("{signer:?}").contains(&crate::hex(signer.seed().as_ref())));
}

#[test]
fn expiry_and_lifetime() {
    let signer = JwtSigner::generate("k");
    let jwks = signer.jwks();
    let mut c = Claims::new("example.org", "@a:example.org", "gatekeeper", Scope::Chat, 300);
    c.iat -= 1000;
    c.exp = c.iat + 10;
    assert!(matches!(
        verify(&signer.sign(&c).unwrap(), &jwks, &expected(Scope::Chat, None)),
        Err(AuthError::Jwt(_))
    ));
    let long =
        Claims::new("example.org", "@a:example.org", "gatekeeper", Scope::Chat, 3 * 24 * 3600);
    assert!(matches!(
        verify(&signer.sign(&long).unwrap(), &jwks, &expected(Scope::Chat, None)),
        Err(AuthError::LifetimeTooLong)
    ));
}

#[test]
fn jwks_urls() {
    let u = url::Url::parse("https://bridge.example.org/_interop").unwrap();
    assert_eq!(
        jwks_url(&u).unwrap().as_str(),
        "https://bridge.example.org/_interop/.well-known/jwks.json"
    );
    let u = url::Url::parse("https://gk.example/").unwrap();
    assert_eq!(jwks_url(&u).unwrap().as_str(), "https://gk.example/.well-known/jwks.json");
    assert_eq!(join(&u, "/push").unwrap().as_str(), "https://gk.example/push");
}
