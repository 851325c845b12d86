use super::*;

#[test]
fn every_special_character_is_escaped_and_the_rest_kept() {
    assert_eq!(
        escape(r#"<a href="x" title='y'>Tom & Jerry</a> é"#),
        "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;Tom &amp; Jerry&lt;/a&gt; é"
    );
    assert_eq!(escape(""), "");
}
