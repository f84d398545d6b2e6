use pretty_assertions::assert_eq;

use super::*;

/// A host with a few zoneinfo and terminfo files, in both terminfo layouts.
fn host(p: &Path) -> bool {
    [
        "/usr/share/zoneinfo/Europe/Paris",
        "/usr/share/zoneinfo/America/Argentina/Buenos_Aires",
        "/usr/share/zoneinfo/Etc/GMT+3",
        "/usr/share/zoneinfo/UTC",
        "/etc/localtime",
        "/lib/terminfo/x/xterm",
        "/lib/terminfo/x/xterm-256color",
        "/lib/terminfo/s/screen",
        "/lib/terminfo/l/linux",
        "/lib/terminfo/d/dumb",
        "/usr/share/terminfo/t/tmux-256color",
        "/usr/share/terminfo/72/rxvt-unicode-256color",
        "/usr/share/terminfo/s/screen.xterm-256color",
    ]
    .iter()
    .any(|f| Path::new(f) == p)
}

/// Values the red team passed through the fixed list, and other tokens in the same places.
const TOKENS: &[&str] = &[
    "sk-ant-api03-xxxxxxxxxxxxxxxxxxxxxxxx",
    "sk-ant-api03-xxxxxxxx",
    "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    "hf_abcdefghijklmnopqrstuvwxyz0123456",
    "xoxb-123-abc",
    "xoxb-1234567890-abcdefghijkl",
    "AKIAIOSFODNN7EXAMPLE",
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
    "hunter2 password",
    "en_US.AKIAIOSFODNN7EXAMPLE",
    "en_US.UTF-8@abcdef0123456789xyz",
    "../../../etc/passwd",
];

/// Which of `values` `name` withholds (with its reason).
fn withheld<'a>(name: &str, values: &[&'a str]) -> Vec<(&'a str, &'static str)> {
    values
        .iter()
        .filter_map(|v| shape_reason(name, v, &host).map(|r| (*v, r)))
        .collect()
}

#[test]
fn real_locale_names_pass() {
    let valid = [
        "C",
        "POSIX",
        "C.UTF-8",
        "C.utf8",
        "en",
        "en_US",
        "en_US.UTF-8",
        "en_GB.utf8",
        "de_DE@euro",
        "de_DE.ISO-8859-15@euro",
        "pt_BR.utf8",
        "sr_RS@latin",
        "zh_CN.GB18030",
        "ja_JP.eucJP",
        "ca_ES.UTF-8@valencia",
        "uz_UZ@cyrillic",
        "ber_MA",
        "vi_VN.TCVN5712-1",
        "hy_AM.ARMSCII-8",
    ];
    for name in ["LANG", "LC_ALL", "LC_MESSAGES", "LC_IDENTIFICATION"] {
        assert_eq!(withheld(name, &valid), vec![], "{name}");
    }
    assert_eq!(
        withheld("LANGUAGE", &["en_US:en", "pt_BR:pt:en", "de", "fr_FR::en"]),
        vec![]
    );
}

#[test]
fn tokens_in_locale_variables_are_withheld() {
    let why = "its value does not look like a locale name";
    let mut bad: Vec<&str> = TOKENS.to_vec();
    bad.extend([
        "C.UTF-8@euro",
        "english",
        "EN_us",
        "en_USA",
        "e",
        "en_US.",
        "en_US.UTF 8",
        "en_US.UTF-8\n",
    ]);
    for name in [
        "LANG",
        "LC_ALL",
        "LC_MESSAGES",
        "LC_IDENTIFICATION",
        "LC_TIME",
    ] {
        let expected: Vec<(&str, &str)> = bad.iter().map(|v| (*v, why)).collect();
        assert_eq!(withheld(name, &bad), expected, "{name}");
    }
    assert_eq!(
        withheld(
            "LANGUAGE",
            &["en:ghp_0123456789abcdefghij", "en:sk-ant-api03-x"]
        ),
        vec![
            (
                "en:ghp_0123456789abcdefghij",
                "its value does not look like a list of locale names"
            ),
            (
                "en:sk-ant-api03-x",
                "its value does not look like a list of locale names"
            ),
        ]
    );
}

#[test]
fn real_time_zones_pass() {
    let valid = [
        "Europe/Paris",
        ":Europe/Paris",
        "America/Argentina/Buenos_Aires",
        "Etc/GMT+3",
        ":/etc/localtime",
        "/etc/localtime",
        "UTC",
        "GMT",
        ":UTC",
        "UTC0",
        "EST5EDT",
        "UTC+3",
        "<+03>-3",
        "<-0330>3:30",
        "CET-1CEST,M3.5.0,M10.5.0/3",
        "EST5EDT,M3.2.0/2:00:00,M11.1.0/2:00:00",
        "NZST-12NZDT,M9.5.0,M4.1.0/3",
        "IST-5:30",
        "JST-9",
        "AEST-10AEDT,J60,J300",
        "WET0WEST,M3.5.0/1,M10.5.0",
        "<+0545>-5:45",
        "PST8PDT,M3.2.0,M11.1.0/-1",
    ];
    assert_eq!(withheld("TZ", &valid), vec![]);
}

#[test]
fn tokens_in_tz_are_withheld() {
    let why = "its value does not look like a time zone";
    let mut bad: Vec<&str> = TOKENS.to_vec();
    bad.extend([
        "Europe/Nowhere",
        ":/etc/nonexistent",
        "Europe/../../../etc/passwd",
        "EST",
        "ESTABLISHED5",
        "EST99EDT",
        "EST5EDT,M13.1.0,M11.1.0",
        "EST5EDT,M3.2.0",
        "EST5EDT,M3.2.0,M11.1.0/999",
        "<AKIAIOSFODNN7>5",
        "ABCDEF5GHIJKLM",
        "EST5EDT4x",
    ]);
    let expected: Vec<(&str, &str)> = bad.iter().map(|v| (*v, why)).collect();
    assert_eq!(withheld("TZ", &bad), expected);
}

#[test]
fn terminal_types_with_a_terminfo_entry_pass() {
    let valid = [
        "xterm",
        "xterm-256color",
        "screen",
        "tmux-256color",
        "linux",
        "dumb",
        "rxvt-unicode-256color",
        "screen.xterm-256color",
    ];
    assert_eq!(withheld("TERM", &valid), vec![]);
    let why = "its value does not look like a terminal type";
    let mut bad: Vec<&str> = TOKENS.to_vec();
    bad.extend(["xterm-kitty", "x/xterm", "../x/xterm", ".", "vt100 "]);
    let expected: Vec<(&str, &str)> = bad.iter().map(|v| (*v, why)).collect();
    assert_eq!(withheld("TERM", &bad), expected);
}

#[test]
fn colour_variables_pass_only_short_plain_values() {
    assert_eq!(
        withheld(
            "COLORTERM",
            &["truecolor", "24bit", "yes", "rxvt-xpm", "gnome-terminal"]
        ),
        vec![]
    );
    assert_eq!(withheld("NO_COLOR", &["1", "true", "yes", "", "0"]), vec![]);
    let colorterm: Vec<(&str, &str)> = TOKENS
        .iter()
        .chain(&["TrueColor", "a0123456789b"])
        .map(|v| (*v, "its value does not look like a terminal colour setting"))
        .collect();
    let values: Vec<&str> = colorterm.iter().map(|(v, _)| *v).collect();
    assert_eq!(withheld("COLORTERM", &values), colorterm);
    let no_color: Vec<(&str, &str)> = TOKENS
        .iter()
        .chain(&["123456789", "yes please"])
        .map(|v| (*v, "its value does not look like a colour preference"))
        .collect();
    let values: Vec<&str> = no_color.iter().map(|(v, _)| *v).collect();
    assert_eq!(withheld("NO_COLOR", &values), no_color);
}

#[test]
fn names_off_the_fixed_list_and_empty_values_are_not_judged() {
    assert_eq!(
        shape_reason("EDITOR", "ghp_0123456789abcdefghij", &host),
        None
    );
    assert_eq!(shape_reason("LANG", "", &host), None);
    assert_eq!(shape_reason("TZ", "", &host), None);
}

#[test]
fn token_runs_are_told_from_words() {
    for s in [
        "GB18030",
        "TCVN5712-1",
        "devanagari",
        "xterm-256color",
        "truecolor",
    ] {
        assert!(!is_token_like(s), "{s}");
    }
    for s in ["AKIAIOSFODNN7EXAMPLE", "api0123456789", "abcdefghijklmnopq"] {
        assert!(is_token_like(s), "{s}");
    }
}

#[test]
fn known_token_prefixes_are_token_like_even_when_short() {
    for s in [
        "xoxb-1-a", "ghp_x", "sk-ant-a", "hf_a", "AKIA1", "eyJx", "glpat-1",
    ] {
        assert!(is_token_like(s), "{s}");
    }
    // Positive twins: a locale and a terminal that begin alike.
    for s in ["sk_SK.UTF-8", "hr_HR", "xterm"] {
        assert!(!is_token_like(s), "{s}");
    }
}
