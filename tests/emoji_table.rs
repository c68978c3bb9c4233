//! The embedded emoji table matches the shared spec's `emoji_table.tsv` (official and pytgvoip
//! columns); regenerate with `python3 scripts/gen-emoji-table.py PATH/emoji_table.tsv`.

mod common;

fn decode(field: &str) -> String {
    field
        .split_whitespace()
        .map(|cp| {
            let v = u32::from_str_radix(cp.trim_start_matches("U+"), 16).expect("hex code point");
            char::from_u32(v).expect("valid code point")
        })
        .collect()
}

#[test]
fn embedded_table_matches_spec() {
    let path = common::shared_dir().join("spec/emoji_table.tsv");
    let text = std::fs::read_to_string(&path).expect("read emoji_table.tsv");
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
        .collect();
    assert_eq!(rows.len(), tgvoip::util::EMOJI.len());
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], i.to_string());
        let (official, pytgvoip, name) = tgvoip::util::EMOJI[i];
        assert_eq!(decode(r[1]), official, "official emoji {i}");
        assert_eq!(decode(r[2]), pytgvoip, "pytgvoip emoji {i}");
        assert_eq!(r[3], name, "name {i}");
    }
}
