//! What the values of the fixed pass list look like: a locale name, a time zone, a
//! terminal type, a colour preference.
//!
//! Every agent gets the caller's `LANG`, `LANGUAGE`, the `LC_*` categories, `TZ`, `TERM`,
//! `COLORTERM` and `NO_COLOR` without the policy asking ([`super::env::SAFE_NAMES`]). The
//! names are harmless; their values need not be: ssh forwards `LANG` and `LC_*` by default,
//! and people carry tokens across that way (`LC_MESSAGES=ghp_…`). So each passes only when
//! its value has the shape of what its name says, else it is withheld like a secret
//! (and its value redacted from output). Variables a policy names in `pass` are not
//! checked here: the policy asked for them.
//!
//! Pure: whether a zoneinfo or terminfo file exists is asked through `is_file`, so tests
//! need no host files and the caller decides which file system is meant.

use std::path::{Path, PathBuf};

/// Where time-zone files are (glibc's default `TZDIR`).
pub const ZONEINFO_DIR: &str = "/usr/share/zoneinfo";

/// Where terminfo entries are, in ncurses' search order without the caller's own
/// (`$TERMINFO`, `~/.terminfo`), which no sandbox sees.
pub const TERMINFO_DIRS: [&str; 4] = [
    "/etc/terminfo",
    "/lib/terminfo",
    "/usr/share/terminfo",
    "/usr/lib/terminfo",
];

/// Why `value` does not fit the fixed-list variable `name`, or `None` when it does (or
/// `name` is not on the fixed list). An empty value carries nothing and always fits.
/// `is_file` says whether a host path is a file.
#[must_use]
pub fn shape_reason(
    name: &str,
    value: &str,
    is_file: &dyn Fn(&Path) -> bool,
) -> Option<&'static str> {
    if value.is_empty() {
        return None;
    }
    let (fits, why) = match name {
        "LANGUAGE" => (
            is_language_list(value),
            "its value does not look like a list of locale names",
        ),
        "TZ" => (
            is_time_zone(value, is_file),
            "its value does not look like a time zone",
        ),
        "TERM" => (
            is_terminal_type(value, is_file),
            "its value does not look like a terminal type",
        ),
        "COLORTERM" => (
            is_colorterm(value),
            "its value does not look like a terminal colour setting",
        ),
        "NO_COLOR" => (
            value.len() <= 8 && value.bytes().all(|b| b.is_ascii_alphanumeric()),
            "its value does not look like a colour preference",
        ),
        n if n == "LANG" || n.starts_with("LC_") => (
            is_locale_name(value),
            "its value does not look like a locale name",
        ),
        _ => (true, ""),
    };
    (!fits).then_some(why)
}

/// Prefixes of well-known credential formats: Slack (`xoxb-`), GitHub (`ghp_`,
/// `github_pat_`), GitLab, OpenAI and Anthropic (`sk-`), Hugging Face, AWS key ids, Google
/// API keys and OAuth tokens, npm, PyPI, DigitalOcean, JWTs (`eyJ`).
pub const TOKEN_PREFIXES: [&str; 22] = [
    "xoxa-",
    "xoxb-",
    "xoxp-",
    "xoxo-",
    "xoxr-",
    "xoxs-",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "sk-",
    "hf_",
    "AKIA",
    "ASIA",
    "AIza",
    "ya29.",
    "npm_",
    "pypi-",
    "eyJ",
];

/// Whether `s` looks like a key or token rather than a word: it starts with a known
/// credential prefix ([`TOKEN_PREFIXES`]), or holds a run of letters and digits of ten or
/// more with a digit among them (`AKIAIOSFODNN7EXAMPLE`), or of sixteen or more of any
/// kind. Real charset, modifier and terminal-name parts (`GB18030`, `TCVN5712`,
/// `devanagari`, `256color`) are shorter.
#[must_use]
pub fn is_token_like(s: &str) -> bool {
    TOKEN_PREFIXES.iter().any(|p| s.starts_with(p))
        || s.split(|c: char| !c.is_ascii_alphanumeric()).any(|run| {
            run.len() >= 16 || (run.len() >= 10 && run.bytes().any(|b| b.is_ascii_digit()))
        })
}

/// `C`, `POSIX`, `C.<charset>`, or `ll[_CC][.charset][@modifier]`: a language of two or
/// three lower-case letters, a country of two upper-case letters, a charset of 1–20
/// letters, digits and `-`, a modifier of 1–20 lower-case letters and digits; and nothing
/// in it token-like ([`is_token_like`]).
#[must_use]
pub fn is_locale_name(v: &str) -> bool {
    if v == "C" || v == "POSIX" {
        return true;
    }
    if is_token_like(v) {
        return false;
    }
    let (rest, modifier) = match v.split_once('@') {
        Some((r, m)) => (r, Some(m)),
        None => (v, None),
    };
    let (base, charset) = match rest.split_once('.') {
        Some((b, c)) => (b, Some(c)),
        None => (rest, None),
    };
    let modifier_ok = modifier.is_none_or(|m| {
        (1..=20).contains(&m.len())
            && m.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    let charset_ok = charset.is_none_or(|c| {
        (1..=20).contains(&c.len()) && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let base_ok = if base == "C" {
        // `C.UTF-8`, `C.utf8`: only with a charset, and no modifier.
        charset.is_some() && modifier.is_none()
    } else {
        let (lang, country) = match base.split_once('_') {
            Some((l, c)) => (l, Some(c)),
            None => (base, None),
        };
        (2..=3).contains(&lang.len())
            && lang.bytes().all(|b| b.is_ascii_lowercase())
            && country.is_none_or(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
    };
    base_ok && charset_ok && modifier_ok
}

/// `LANGUAGE`: locale names ([`is_locale_name`]) separated by `:`, empty entries allowed
/// (gettext skips them), at most 16 of them.
#[must_use]
pub fn is_language_list(v: &str) -> bool {
    let items: Vec<&str> = v.split(':').collect();
    items.len() <= 16 && items.iter().all(|i| i.is_empty() || is_locale_name(i))
}

/// `TZ`: `UTC` or `GMT`; an IANA name with a file under [`ZONEINFO_DIR`]
/// (`Europe/Paris`, optionally `:`-prefixed); an absolute path to an existing file
/// (`:/etc/localtime`); or a POSIX TZ string ([`is_posix_tz`]: `EST5EDT`,
/// `CET-1CEST,M3.5.0,M10.5.0/3`).
#[must_use]
pub fn is_time_zone(v: &str, is_file: &dyn Fn(&Path) -> bool) -> bool {
    if v.len() > 128 {
        return false;
    }
    let file = v.strip_prefix(':').unwrap_or(v);
    if matches!(file, "UTC" | "GMT") {
        return true;
    }
    if file.starts_with('/') {
        return is_plain_path(file, b"/._+-") && is_file(Path::new(file));
    }
    if is_plain_path(file, b"/._+-") && !is_token_like(file) {
        let zone: PathBuf = Path::new(ZONEINFO_DIR).join(file);
        if is_file(&zone) {
            return true;
        }
    }
    !v.starts_with(':') && is_posix_tz(v)
}

/// Whether `p` is made of letters, digits and the bytes of `extra` only, with no empty,
/// `.` or `..` component (so a name cannot climb out of the directory it is looked up in).
fn is_plain_path(p: &str, extra: &[u8]) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
        && p.trim_start_matches('/')
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// A POSIX TZ string (`std offset [dst [offset] [,start[/time],end[/time]]]`, POSIX.1-2017
/// §8.3), strictly: a zone abbreviation is 3–6 letters or `<…>` of 3–7 letters, digits,
/// `+` and `-`; an offset is `[+-]hh[:mm[:ss]]` with hours up to 24; a rule date is `Jn`,
/// `n` or `Mm.w.d`, its time `[+-]h[:mm[:ss]]` with hours up to 167. Long runs of letters
/// (`AKIAIOSFODNN7EXAMPLE`), `_` (`hf_…`, `ghp_…`) and anything else fail.
#[must_use]
pub fn is_posix_tz(v: &str) -> bool {
    let mut p = TzParser {
        s: v.as_bytes(),
        i: 0,
    };
    let ok = p.name()
        && p.time(24)
        && (p.done() || (p.name() && (p.done() || p.peek() == Some(b',') || p.time(24))))
        && (p.done() || (p.eat(b',') && p.rule() && p.eat(b',') && p.rule()));
    ok && p.done()
}

/// A cursor over a TZ string.
struct TzParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl TzParser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i == self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.i += 1;
        }
        hit
    }

    /// Consume 1..=`max` bytes satisfying `f`; their value when they are digits.
    fn run(&mut self, max: usize, f: impl Fn(u8) -> bool) -> Option<(usize, u32)> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(&f) {
            self.i += 1;
        }
        let n = self.i - start;
        let value = self.s[start..self.i]
            .iter()
            .filter(|b| b.is_ascii_digit())
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        (n > 0).then_some((n, value))
    }

    /// A zone abbreviation; never followed by another letter (so length caps hold).
    fn name(&mut self) -> bool {
        if self.eat(b'<') {
            let ok = self
                .run(7, |b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-')
                .is_some_and(|(n, _)| n >= 3);
            return ok && self.eat(b'>');
        }
        self.run(6, |b| b.is_ascii_alphabetic())
            .is_some_and(|(n, _)| n >= 3)
            && !self.peek().is_some_and(|b| b.is_ascii_alphabetic())
    }

    /// `[+-]h[h…][:mm[:ss]]` with hours at most `max_hours`.
    fn time(&mut self, max_hours: u32) -> bool {
        let _ = self.eat(b'+') || self.eat(b'-');
        let Some((_, h)) = self.run(3, |b| b.is_ascii_digit()) else {
            return false;
        };
        for _ in 0..2 {
            if !self.eat(b':') {
                break;
            }
            if !self
                .run(2, |b| b.is_ascii_digit())
                .is_some_and(|(n, v)| n == 2 && v < 60)
            {
                return false;
            }
        }
        h <= max_hours
    }

    /// `Jn` (1–365), `n` (0–365) or `Mm.w.d`, then an optional `/time`.
    fn rule(&mut self) -> bool {
        let digits = |p: &mut Self, lo: u32, hi: u32| {
            p.run(3, |b| b.is_ascii_digit())
                .is_some_and(|(_, v)| (lo..=hi).contains(&v))
        };
        let date = if self.eat(b'J') {
            digits(self, 1, 365)
        } else if self.eat(b'M') {
            digits(self, 1, 12)
                && self.eat(b'.')
                && digits(self, 1, 5)
                && self.eat(b'.')
                && digits(self, 0, 6)
        } else {
            digits(self, 0, 365)
        };
        date && (!self.eat(b'/') || self.time(167))
    }
}

/// `TERM`: a name of letters, digits, `.`, `_`, `+` and `-` (at most 64, nothing
/// token-like) with a terminfo entry in one of [`TERMINFO_DIRS`], under its first letter
/// (`x/xterm-256color`) or that letter's hex code (`78/xterm-256color`, macOS and some
/// ncurses builds).
#[must_use]
pub fn is_terminal_type(v: &str, is_file: &dyn Fn(&Path) -> bool) -> bool {
    let Some(first) = v.bytes().next() else {
        return false;
    };
    if v.len() > 64
        || !v
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'))
        || v.starts_with('.')
        || is_token_like(v)
    {
        return false;
    }
    let letter = char::from(first).to_string();
    let hex = format!("{first:02x}");
    TERMINFO_DIRS.iter().any(|d| {
        [&letter, &hex]
            .iter()
            .any(|sub| is_file(&Path::new(d).join(sub).join(v)))
    })
}

/// `COLORTERM`: 1–20 lower-case letters, digits and `-`, nothing token-like
/// (`truecolor`, `24bit`, `yes`, `rxvt-xpm`).
#[must_use]
pub fn is_colorterm(v: &str) -> bool {
    (1..=20).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !is_token_like(v)
}

#[cfg(test)]
#[path = "env_shape_tests.rs"]
mod tests;
