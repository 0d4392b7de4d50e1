//! `handle_api`: defaults, validation, bound parameters, errors.

use super::*;

#[test]
fn api_fills_defaults_validates_and_binds() {
    let app = sample_app();
    native::set_mock(|query: &Query| {
        let params: Vec<(String, String)> = query
            .params()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(
            params,
            vec![
                ("customer".to_owned(), "c\\t1".to_owned()),
                ("from".to_owned(), "\\N".to_owned()),
                ("limit".to_owned(), "10".to_owned()),
            ]
        );
        assert!(query.sql().contains("{customer:String}"));
        Ok(
            b"{\"day\":\"2024-05-01\",\"revenue\":12.5}\n{\"day\":\"2024-05-02\",\"revenue\":3}\n"
                .to_vec(),
        )
    });
    let response = app
        .handle_api("totals/1.0", br#"{"customer":"c\t1"}"#)
        .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        std::str::from_utf8(&response.body).unwrap(),
        r#"[{"day":"2024-05-01","revenue":12.5},{"day":"2024-05-02","revenue":3.0}]"#
    );
    // Booleans and numbers sent as strings are accepted; minRevenue filters.
    let response = app
        .handle_api(
            "totals/1.0",
            br#"{"customer":"c\t1","verbose":"true","minRevenue":5,"unknown":1}"#,
        )
        .unwrap();
    assert_eq!(response.body, br#"[{"day":"2024-05-01","revenue":12.5}]"#);
    native::clear_mock();
}

#[test]
fn api_errors() {
    let app = sample_app();
    let call = |params: &str| app.handle_api("totals/1.0", params.as_bytes());
    assert_eq!(
        app.handle_api("nope", b"{}"),
        Err(ApiError::UnknownApi("nope".into()))
    );
    // A versioned API is called as `name/version`.
    assert_eq!(
        app.handle_api("totals", b"{}"),
        Err(ApiError::UnknownApi("totals".into()))
    );
    assert_eq!(
        call(r#"{}"#),
        Err(ApiError::BadRequest(
            "invalid parameters: missing field `customer`".into()
        ))
    );
    assert_eq!(
        call(r#"{"customer":"c","limit":1000}"#),
        Err(ApiError::BadRequest(
            "parameter `limit` must be at most 100, got 1000".into()
        ))
    );
    assert_eq!(
        call(r#"{"customer":"c","minRevenue":-1}"#),
        Err(ApiError::BadRequest(
            "parameter `minRevenue` must be at least 0, got -1".into()
        ))
    );
    assert_eq!(
        call(r#"{"customer":"c","limit":"x"}"#),
        Err(ApiError::BadRequest(
            "`limit` must be a number, got \"x\"".into()
        ))
    );
    match call(r#"{"customer":"c","limit":-5.5,"from":"2024-13-01"}"#) {
        Err(ApiError::BadRequest(m)) => assert!(m.contains("at least 1"), "{m}"),
        other => panic!("{other:?}"),
    }
    match call(r#"{"customer":"c","from":"2024-13-01"}"#) {
        Err(ApiError::BadRequest(m)) => {
            assert!(m.starts_with("invalid parameter `from`: "), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(call("[1]"), Err(ApiError::BadRequest(_))));
    assert_eq!(
        call(r#"{"customer":"nobody"}"#),
        Err(ApiError::NotFound("no such customer".into()))
    );
    // Without a host (and without a mock) the query is unavailable.
    assert!(matches!(
        call(r#"{"customer":"c","limit":"5"}"#),
        Err(ApiError::Query(QueryError::Unavailable(_)))
    ));
    native::set_mock(|_| Ok(b"{\"day\":1}".to_vec()));
    match call(r#"{"customer":"c"}"#) {
        Err(ApiError::Query(QueryError::Failed(m))) => {
            assert!(m.starts_with("cannot decode result row 0 as "), "{m}")
        }
        other => panic!("{other:?}"),
    }
    native::clear_mock();
    let pong = app.handle_api("ping", b"").unwrap();
    assert_eq!(pong.body, br#"[{"id":"pong"}]"#);
    let pong = app.handle_api("ping/2.0", b"{}").unwrap();
    assert_eq!(pong.body, br#"[{"id":"pong","score":2.0}]"#);
    assert_eq!(
        app.handle_api("ping/3.0", b"{}"),
        Err(ApiError::UnknownApi("ping/3.0".into()))
    );
}
