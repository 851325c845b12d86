use super::*;

fn table(pairs: &[(&'static str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let pairs = pairs.to_vec();
    move |name| {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.clone())
    }
}

#[test]
fn yes_or_no_takes_only_clear_answers() {
    for (value, expected) in [("", false), ("0", false), (" false ", false), ("1", true)] {
        let lookup = table(&[("V", value.to_owned())]);
        assert_eq!(yes_or_no(&lookup, "V"), Ok(expected), "{value:?}");
    }
    assert_eq!(yes_or_no(&table(&[]), "V"), Ok(false));
    let error = yes_or_no(&table(&[("V", "yes".to_owned())]), "V").unwrap_err();
    assert_eq!(error.to_string(), r#"V: "yes" is not true or false"#);
}

#[test]
fn numbers_stay_in_their_range() {
    let read = |value: &str| number(&table(&[("N", value.to_owned())]), "N", 7, 1..=10, None);
    assert_eq!(number(&table(&[]), "N", 7, 1..=10, None), Ok(7));
    assert_eq!(read(" 10 "), Ok(10));
    for bad in ["0", "11", "-1", "ten", "1.5"] {
        let error = read(bad).unwrap_err();
        assert_eq!(error.variable, "N");
        assert!(error.problem.contains("from 1 to 10"), "{error}");
    }
    let error = number(
        &table(&[("N", "99".into())]),
        "N",
        7,
        1..=10,
        Some("the cap"),
    )
    .unwrap_err();
    assert!(error.problem.ends_with("(the cap)"), "{error}");
}

#[test]
fn a_secret_comes_from_the_variable_or_its_file_never_both() {
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("secret");
    let path = file.display().to_string();
    std::fs::write(&file, "from-file\r\n").unwrap();
    let read = |pairs: &[(&'static str, String)]| secret(&table(pairs), "S", "S_FILE");
    assert_eq!(read(&[]), Ok(None));
    assert_eq!(
        read(&[("S", "inline ".into())]).unwrap().unwrap().expose(),
        "inline "
    );
    assert_eq!(
        read(&[("S_FILE", path.clone())]).unwrap().unwrap().expose(),
        "from-file"
    );
    // Only one line end goes: a secret that ends in a blank line is kept as written.
    std::fs::write(&file, "two\n\n").unwrap();
    assert_eq!(
        read(&[("S_FILE", path.clone())]).unwrap().unwrap().expose(),
        "two\n"
    );
    let both = read(&[("S", "x".into()), ("S_FILE", path.clone())]).unwrap_err();
    assert_eq!(both.variable, "S_FILE");
    for blank in ["\n", "\n\n", " \r\n"] {
        std::fs::write(&file, blank).unwrap();
        let empty = read(&[("S_FILE", path.clone())]).unwrap_err();
        assert!(empty.problem.ends_with("is empty or blank"), "{empty}");
    }
    let missing = read(&[("S_FILE", format!("{path}.gone"))]).unwrap_err();
    assert!(missing.problem.starts_with("cannot read"), "{missing}");
}

#[test]
fn addresses_and_issuers_are_checked() {
    assert_eq!(
        socket_addr(&table(&[]), "A", "127.0.0.1:3001"),
        Ok("127.0.0.1:3001".parse().unwrap())
    );
    assert!(socket_addr(&table(&[("A", "localhost".into())]), "A", "127.0.0.1:1").is_err());
    assert_eq!(
        issuer("I", " https://id.example/ "),
        Ok("https://id.example".into())
    );
    for bad in [
        "id.example",
        "https://",
        "https:///x",
        "http://a?b",
        "http://a b",
    ] {
        assert!(issuer("I", bad).is_err(), "{bad}");
    }
}
