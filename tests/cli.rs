//! Command-line behaviour of `tgvoip-call`: bad arguments get the usage text and exit status 2.

use std::process::Command;

fn call(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tgvoip-call"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_arguments_print_usage_and_exit_2() {
    let key = "ab".repeat(256);
    let short_key = "ab".repeat(255);
    let tag = "00".repeat(16);
    // A complete, valid command line, then one bad option appended to it.
    let valid: Vec<&str> = vec!["127.0.0.1:1", &tag, "-k", &key, "-i", "in", "-o", "out"];
    let with = |extra: &[&'static str]| [valid.as_slice(), extra].concat();
    let cases: Vec<Vec<&str>> = vec![
        vec![],
        vec!["127.0.0.1:1"],
        vec![
            "127.0.0.1:1",
            &tag,
            "-k",
            &short_key,
            "-i",
            "in",
            "-o",
            "out",
        ],
        vec!["127.0.0.1:1", "0011", "-k", &key, "-i", "in", "-o", "out"],
        vec!["127.0.0.1:1", &tag, "-k", &key, "-i", "in"],
        vec!["127.0.0.1:1", &tag, "-k", "zz", "-i", "in", "-o", "out"],
        with(&["-r", "boss"]),
        with(&["-t", "12"]),
        with(&["-s", "sometimes"]),
        with(&["-n", "maybe"]),
        with(&["--frobnicate", "1"]),
    ];
    for args in cases {
        let (code, stderr) = call(&args);
        assert_eq!(code, Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("usage: tgvoip-call"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_missing_input_file_fails_without_usage() {
    let key = "ab".repeat(256);
    let tag = "00".repeat(16);
    let (code, stderr) = call(&[
        "127.0.0.1:9",
        &tag,
        "-k",
        &key,
        "-i",
        "/nonexistent.pcm",
        "-o",
        "/tmp/x.pcm",
    ]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("cannot read /nonexistent.pcm"), "{stderr}");
}
