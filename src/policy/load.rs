//! Loading: bytes → TOML → [`RawPolicy`] → validated [`Policy`], with every problem located.
//!
//! Parse errors (syntax, unknown keys, wrong types) stop at the first one, since the file's
//! shape is unknown past it; validation errors (missing paths, bad sizes, conflicts) are all
//! collected so one `policy check` run shows everything to fix.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use serde::Serialize;
use toml::Spanned;

use super::schema::RawPolicy;
use super::units::{ByteSize, parse_duration};
use super::{
    Agent, EnvPolicy, Filesystem, Grant, GrantPath, LandlockReq, Limits, Location, Network,
    NetworkMode, Policy, Seccomp, SeccompProfile, TaskMode,
};

/// The highest Landlock ABI this build knows about.
pub const MAX_KNOWN_LANDLOCK_ABI: i64 = 7;

/// Paths the sandbox provides itself; a policy may not bind the host's over them.
const SANDBOX_OWNED: [&str; 2] = ["/proc", "/dev"];

/// What loading needs from outside the file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// What `{home}` expands to.
    pub home: PathBuf,
    /// Paths that must never be visible inside a sandbox (mycelium's own state, the
    /// consent store, the policy search path): a grant that equals, lies under or contains
    /// one is an error.
    pub protected: Vec<PathBuf>,
}

/// One problem in a policy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line (0 when the problem is not tied to a place, such as an unreadable file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Key path such as `filesystem.read_only[2]` (empty for syntax errors).
    pub key: String,
    /// What is wrong, and what to do about it where that is not obvious.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file could not be read.
    #[error("cannot read policy {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid policy.
    #[error("{}", render(diagnostics))]
    Invalid {
        /// Every problem found.
        diagnostics: Vec<Diagnostic>,
    },
}

impl PolicyError {
    /// The problems as diagnostics (a read error becomes one without a line).
    #[must_use]
    pub fn diagnostics(&self, file: &Path) -> Vec<Diagnostic> {
        match self {
            PolicyError::Read { source, .. } => vec![Diagnostic {
                file: file.to_path_buf(),
                line: 0,
                column: 0,
                key: String::new(),
                message: format!("cannot read file: {source}"),
            }],
            PolicyError::Invalid { diagnostics } => diagnostics.clone(),
        }
    }
}

fn render(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn load(path: &Path, opts: &LoadOptions) -> Result<Policy, PolicyError> {
    // Through the resolver: no planted link followed, and never a FIFO or device opened.
    let bytes = read_policy(path).map_err(|source| PolicyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    from_bytes(path, bytes, opts)
}

fn read_policy(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut crate::isolation::resolve::open_file(path)?, &mut bytes)?;
    Ok(bytes)
}

pub(super) fn from_bytes(
    path: &Path,
    bytes: Vec<u8>,
    opts: &LoadOptions,
) -> Result<Policy, PolicyError> {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) = line_col(&bytes, e.valid_up_to());
            return Err(PolicyError::Invalid {
                diagnostics: vec![Diagnostic {
                    file: path.to_path_buf(),
                    line,
                    column,
                    key: String::new(),
                    message: "file is not valid UTF-8".into(),
                }],
            });
        }
    };
    let raw = parse_raw(path, text)?;
    let mut v = Validator {
        file: path.to_path_buf(),
        text,
        base: abs
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/")),
        opts,
        diags: Vec::new(),
    };
    let policy = v.validate(raw, abs, bytes.clone());
    if v.diags.is_empty() {
        Ok(policy)
    } else {
        // Validation visits sections in a fixed order; people read files top to bottom.
        v.diags.sort_by_key(|d| (d.line, d.column));
        Err(PolicyError::Invalid {
            diagnostics: v.diags,
        })
    }
}

fn parse_raw(path: &Path, text: &str) -> Result<RawPolicy, PolicyError> {
    let fail = |span: Option<Range<usize>>, key: String, message: String| {
        let (line, column) = span.map_or((1, 1), |s| line_col(text.as_bytes(), s.start));
        PolicyError::Invalid {
            diagnostics: vec![Diagnostic {
                file: path.to_path_buf(),
                line,
                column,
                key,
                message,
            }],
        }
    };
    let de = toml::Deserializer::parse(text)
        .map_err(|e| fail(e.span(), String::new(), tidy(e.message())))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = key_path(e.path());
        let inner = e.into_inner();
        fail(inner.span(), key, tidy(inner.message()))
    })
}

/// serde's messages end with a period and sometimes a newline; ours do neither.
fn tidy(msg: &str) -> String {
    msg.trim().trim_end_matches('.').to_string()
}

/// `serde_path_to_error`'s path, minus the segments `Spanned` adds, in our `a.b[2]` form.
fn key_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if key.starts_with("$__serde_spanned") || key.starts_with("$__toml") {
                    continue;
                }
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(bytes: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(bytes.len());
    let before = &bytes[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

struct Validator<'a> {
    file: PathBuf,
    text: &'a str,
    base: PathBuf,
    opts: &'a LoadOptions,
    diags: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn loc(&self, span: Range<usize>, key: impl Into<String>) -> Location {
        let (line, column) = line_col(self.text.as_bytes(), span.start);
        Location {
            line,
            column,
            key: key.into(),
        }
    }

    fn err(&mut self, span: Range<usize>, key: impl Into<String>, message: impl Into<String>) {
        let at = self.loc(span, key);
        self.diags.push(Diagnostic {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            key: at.key,
            message: message.into(),
        });
    }

    fn validate(&mut self, raw: RawPolicy, path: PathBuf, bytes: Vec<u8>) -> Policy {
        if let Some(v) = &raw.version
            && *v.get_ref() != 1
        {
            self.err(
                v.span(),
                "version",
                format!(
                    "unsupported version {}: this mycelium reads version 1",
                    v.get_ref()
                ),
            );
        }
        let agent = self.agent(raw.agent);
        let filesystem = self.filesystem(raw.filesystem);
        let network = self.network(raw.network);
        let env = self.env(raw.env);
        let limits = self.limits(raw.limits);
        let mut seccomp = self.seccomp(raw.seccomp);
        seccomp.unix_sockets = network.unix_sockets;
        let landlock = self.landlock(raw.landlock);
        Policy {
            path,
            bytes,
            agent,
            filesystem,
            network,
            env,
            limits,
            seccomp,
            landlock,
            risk: std::sync::OnceLock::new(),
        }
    }

    fn agent(&mut self, raw: Option<super::schema::RawAgent>) -> Agent {
        let mut agent = Agent {
            description: None,
            definition: None,
            command: Vec::new(),
            task: TaskMode::Stdin,
            timeout: None,
            uid: 1000,
            gid: 1000,
            pin: Vec::new(),
        };
        let Some(raw) = raw else { return agent };
        agent.description = raw.description;
        if let Some(d) = raw.definition {
            agent.definition = self.file_path(&d, "agent.definition");
        }
        if let Some(cmd) = raw.command {
            if cmd.get_ref().is_empty() {
                self.err(
                    cmd.span(),
                    "agent.command",
                    "must name a program: [\"/usr/bin/python3\", \"agent.py\"]",
                );
            } else if !cmd.get_ref()[0].starts_with('/') {
                self.err(
                    cmd.span(),
                    "agent.command[0]",
                    format!(
                        "program {:?} must be an absolute path inside the sandbox",
                        cmd.get_ref()[0]
                    ),
                );
            }
            agent.command = cmd.into_inner();
        }
        if let Some(t) = raw.task {
            match t.get_ref().as_str() {
                "stdin" => agent.task = TaskMode::Stdin,
                "arg" => agent.task = TaskMode::Arg,
                "env" => agent.task = TaskMode::Env,
                other => self.err(
                    t.span(),
                    "agent.task",
                    format!("unknown task mode {other:?}: expected \"stdin\", \"arg\" or \"env\""),
                ),
            }
        }
        if let Some(t) = raw.timeout {
            match parse_duration(t.get_ref()) {
                Ok(d) if d.is_zero() => {
                    self.err(t.span(), "agent.timeout", "must be longer than zero")
                }
                Ok(d) => agent.timeout = Some(d),
                Err(e) => self.err(t.span(), "agent.timeout", e),
            }
        }
        if let Some(u) = raw.uid {
            agent.uid = self.id(&u, "agent.uid");
        }
        if let Some(g) = raw.gid {
            agent.gid = self.id(&g, "agent.gid");
        }
        for (i, p) in raw.pin.iter().enumerate() {
            if let Some(path) = self.file_path(p, &format!("agent.pin[{i}]")) {
                agent.pin.push(path);
            }
        }
        agent
    }

    fn id(&mut self, v: &Spanned<i64>, key: &str) -> u32 {
        match u32::try_from(*v.get_ref()) {
            Ok(id) if id != u32::MAX => id,
            _ => {
                self.err(
                    v.span(),
                    key,
                    format!("{} is not a valid id (0 to 4294967294)", v.get_ref()),
                );
                1000
            }
        }
    }

    /// A host file named by `[agent]` (definition, pins): must exist and be a regular file.
    fn file_path(&mut self, v: &Spanned<String>, key: &str) -> Option<PathBuf> {
        let path = match self.expand(v.get_ref()) {
            Ok(GrantPath::Host(p)) => p,
            Ok(GrantPath::Workspace(_)) => {
                self.err(
                    v.span(),
                    key,
                    "{workspace} cannot be used here: the file must be fixed when consent is given",
                );
                return None;
            }
            Err(e) => {
                self.err(v.span(), key, e);
                return None;
            }
        };
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Some(path),
            Ok(_) => {
                self.err(
                    v.span(),
                    key,
                    format!("{} is not a regular file", path.display()),
                );
                None
            }
            Err(e) => {
                self.err(
                    v.span(),
                    key,
                    format!("{}: {}", path.display(), io_reason(&e)),
                );
                None
            }
        }
    }

    /// Placeholders, `?`-free: `{workspace}…` stays symbolic, `{home}` expands, relative
    /// paths resolve against the policy file's directory.
    fn expand(&self, text: &str) -> Result<GrantPath, String> {
        if text.is_empty() {
            return Err("path is empty".into());
        }
        if text.starts_with('~') {
            return Err(format!(
                "{text:?}: `~` is not expanded, write {{home}} instead"
            ));
        }
        let (ws, rest) = if let Some(rest) = text.strip_prefix("{workspace}") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("{home}") {
            let home = self.opts.home.to_string_lossy().into_owned();
            return self.finish(&format!("{home}{rest}"), text);
        } else {
            (false, text)
        };
        if ws {
            if !(rest.is_empty() || rest.starts_with('/')) {
                return Err(format!(
                    "{text:?}: {{workspace}} must be followed by `/` or nothing"
                ));
            }
            if let Some(open) = rest.find('{') {
                return Err(unknown_placeholder(text, &rest[open..]));
            }
            let rel = normalize(Path::new(rest.trim_start_matches('/')))
                .ok_or_else(|| format!("{text:?}: `..` is not allowed in paths"))?;
            return Ok(GrantPath::Workspace(rel));
        }
        self.finish(rest, text)
    }

    fn finish(&self, expanded: &str, original: &str) -> Result<GrantPath, String> {
        if let Some(open) = expanded.find('{') {
            return Err(unknown_placeholder(original, &expanded[open..]));
        }
        let p = Path::new(expanded);
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        };
        let norm = normalize(&joined)
            .ok_or_else(|| format!("{original:?}: `..` is not allowed in paths"))?;
        Ok(GrantPath::Host(norm))
    }

    fn grants(
        &mut self,
        list: &[Spanned<String>],
        key: &str,
        seen: &mut HashSet<GrantPath>,
    ) -> Vec<Grant> {
        let mut out = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let k = format!("{key}[{i}]");
            let (optional, text) = match item.get_ref().strip_prefix('?') {
                Some(rest) => (true, rest),
                None => (false, item.get_ref().as_str()),
            };
            let path = match self.expand(text) {
                Ok(p) => p,
                Err(e) => {
                    self.err(item.span(), k, e);
                    continue;
                }
            };
            if !seen.insert(path.clone()) {
                self.err(item.span(), k, format!("{} is granted twice (each path may appear once, in read_only or read_write)", path.display()));
                continue;
            }
            if let GrantPath::Host(host) = &path {
                if let Some(owned) = SANDBOX_OWNED.iter().find(|o| host.starts_with(o)) {
                    self.err(item.span(), k, format!("{} is provided by the sandbox itself (a fresh {owned} is always mounted); remove this entry", host.display()));
                    continue;
                }
                if let Some(prot) = self.opts.protected.iter().find(|p| exposes(host, p)) {
                    self.err(item.span(), k, format!("{} would expose {}, mycelium's own state (consent store, policies), which is never visible inside a sandbox", host.display(), prot.display()));
                    continue;
                }
                // `/etc/hostname/` names a directory; granting the file under it would make
                // the entry mean something else than it says.
                if text.len() > 1
                    && text.ends_with('/')
                    && std::fs::metadata(host).is_ok_and(|m| !m.is_dir())
                {
                    self.err(
                        item.span(),
                        k,
                        format!(
                            "{text:?} ends with `/`, which names a directory, but {} is not a directory; remove the trailing `/` to grant the file",
                            host.display()
                        ),
                    );
                    continue;
                }
                if !optional && let Err(e) = std::fs::metadata(host) {
                    self.err(
                        item.span(),
                        k,
                        format!(
                            "{}: {} (prefix the entry with `?` to skip it where it is absent)",
                            host.display(),
                            io_reason(&e)
                        ),
                    );
                    continue;
                }
            }
            let at = self.loc(item.span(), k);
            out.push(Grant { path, optional, at });
        }
        out
    }

    fn filesystem(&mut self, raw: super::schema::RawFilesystem) -> Filesystem {
        let mut seen = HashSet::new();
        let read_only = self.grants(&raw.read_only, "filesystem.read_only", &mut seen);
        let read_write = self.grants(&raw.read_write, "filesystem.read_write", &mut seen);
        let mut tmpfs = BTreeMap::new();
        match raw.tmpfs {
            None => {
                tmpfs.insert(PathBuf::from("/tmp"), ByteSize(64 << 20));
            }
            Some(map) => {
                for (path, size) in map {
                    let key = format!("filesystem.tmpfs.\"{}\"", path.get_ref());
                    let p = Path::new(path.get_ref());
                    let Some(norm) = normalize(p).filter(|_| p.is_absolute()) else {
                        self.err(
                            path.span(),
                            key,
                            "must be an absolute path without `..` or placeholders",
                        );
                        continue;
                    };
                    if SANDBOX_OWNED.iter().any(|o| norm.starts_with(o)) || norm == Path::new("/") {
                        self.err(
                            path.span(),
                            key,
                            format!(
                                "{} cannot be a tmpfs (the sandbox provides /, /proc and /dev)",
                                norm.display()
                            ),
                        );
                        continue;
                    }
                    if seen.contains(&GrantPath::Host(norm.clone())) {
                        self.err(
                            path.span(),
                            key,
                            format!(
                                "{} is also granted from the host; choose one",
                                norm.display()
                            ),
                        );
                        continue;
                    }
                    match ByteSize::parse(size.get_ref()) {
                        Ok(s) if s.0 == 0 => {
                            self.err(size.span(), key, "size must be larger than zero")
                        }
                        Ok(s) => {
                            tmpfs.insert(norm, s);
                        }
                        Err(e) => self.err(size.span(), key, e),
                    }
                }
            }
        }
        Filesystem {
            read_only,
            read_write,
            tmpfs,
        }
    }

    fn network(&mut self, raw: super::schema::RawNetwork) -> Network {
        let mode = match &raw.mode {
            None => NetworkMode::None,
            Some(m) => {
                match m.get_ref().as_str() {
                    "none" => NetworkMode::None,
                    "loopback" => NetworkMode::Loopback,
                    "host" => NetworkMode::Host,
                    other => {
                        self.err(m.span(), "network.mode", format!("unknown mode {other:?}: expected \"none\", \"loopback\" or \"host\""));
                        NetworkMode::None
                    }
                }
            }
        };
        let tcp_connect = self.ports(raw.tcp_connect, "network.tcp_connect", mode);
        let tcp_bind = self.ports(raw.tcp_bind, "network.tcp_bind", mode);
        let unix_sockets = raw.unix_sockets.unwrap_or(false);
        Network {
            mode,
            tcp_connect,
            tcp_bind,
            unix_sockets,
        }
    }

    fn ports(
        &mut self,
        raw: Option<Spanned<Vec<i64>>>,
        key: &str,
        mode: NetworkMode,
    ) -> Option<Vec<u16>> {
        let raw = raw?;
        if mode != NetworkMode::Host {
            self.err(
                raw.span(),
                key,
                format!(
                    "port lists apply to network.mode = \"host\" only (mode is {:?})",
                    mode.as_str()
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        for (i, p) in raw.get_ref().iter().enumerate() {
            match u16::try_from(*p) {
                Ok(port) if port > 0 => out.push(port),
                _ => self.err(
                    raw.span(),
                    format!("{key}[{i}]"),
                    format!("{p} is not a TCP port (1 to 65535)"),
                ),
            }
        }
        Some(out)
    }

    fn env(&mut self, raw: super::schema::RawEnv) -> EnvPolicy {
        let mut env = EnvPolicy::default();
        for (i, name) in raw.pass.iter().enumerate() {
            if self.env_name(name, &format!("env.pass[{i}]")) {
                env.pass.push(name.get_ref().clone());
            }
        }
        for (name, value) in raw.set {
            let key = format!("env.set.{}", name.get_ref());
            if self.env_name(&name, &key) {
                if value.contains('\0') {
                    self.err(name.span(), key, "value contains a NUL byte");
                    continue;
                }
                env.set.insert(name.into_inner(), value);
            }
        }
        for (i, name) in raw.allow_secrets.iter().enumerate() {
            if self.env_name(name, &format!("env.allow_secrets[{i}]")) {
                env.allow_secrets.push(name.get_ref().clone());
            }
        }
        env
    }

    fn env_name(&mut self, name: &Spanned<String>, key: &str) -> bool {
        let n = name.get_ref();
        let valid = !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            self.err(name.span(), key, format!("{n:?} is not a variable name (letters, digits and `_`, not starting with a digit)"));
        }
        valid
    }

    fn limits(&mut self, raw: super::schema::RawLimits) -> Limits {
        let size = |v: Option<Spanned<String>>, key: &str, this: &mut Self| {
            let v = v?;
            match ByteSize::parse(v.get_ref()) {
                Ok(s) if s.0 > 0 => Some(s),
                Ok(_) => {
                    this.err(v.span(), key, "must be larger than zero");
                    None
                }
                Err(e) => {
                    this.err(v.span(), key, e);
                    None
                }
            }
        };
        let memory = size(raw.memory, "limits.memory", self);
        let file_size = size(raw.file_size, "limits.file_size", self);
        let output = size(raw.output, "limits.output", self);
        let processes = self.count(raw.processes, "limits.processes");
        let open_files = self.count(raw.open_files, "limits.open_files");
        let cpu_time = raw
            .cpu_time
            .and_then(|v| match parse_duration(v.get_ref()) {
                Ok(d) if d.as_secs() >= 1 => Some(d),
                Ok(_) => {
                    self.err(
                        v.span(),
                        "limits.cpu_time",
                        "must be at least 1s (the kernel counts whole seconds)",
                    );
                    None
                }
                Err(e) => {
                    self.err(v.span(), "limits.cpu_time", e);
                    None
                }
            });
        Limits {
            memory,
            processes,
            open_files,
            file_size,
            cpu_time,
            output,
        }
    }

    fn count(&mut self, v: Option<Spanned<i64>>, key: &str) -> Option<u64> {
        let v = v?;
        match u64::try_from(*v.get_ref()) {
            Ok(n) if n > 0 => Some(n),
            _ => {
                self.err(
                    v.span(),
                    key,
                    format!("{} is not a positive number", v.get_ref()),
                );
                None
            }
        }
    }

    fn seccomp(&mut self, raw: super::schema::RawSeccomp) -> Seccomp {
        let profile = match &raw.profile {
            None => SeccompProfile::Default,
            Some(p) => match p.get_ref().as_str() {
                "default" => SeccompProfile::Default,
                "strict" => SeccompProfile::Strict,
                other => {
                    self.err(
                        p.span(),
                        "seccomp.profile",
                        format!("unknown profile {other:?}: expected \"default\" or \"strict\""),
                    );
                    SeccompProfile::Default
                }
            },
        };
        let names = |list: &[Spanned<String>], key: &str, this: &mut Self| {
            let mut out = Vec::new();
            for (i, n) in list.iter().enumerate() {
                let valid = !n.get_ref().is_empty()
                    && n.get_ref()
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if valid {
                    out.push(n.get_ref().clone());
                } else {
                    this.err(
                        n.span(),
                        format!("{key}[{i}]"),
                        format!("{:?} is not a system call name", n.get_ref()),
                    );
                }
            }
            out
        };
        let allow = names(&raw.allow, "seccomp.allow", self);
        let deny = names(&raw.deny, "seccomp.deny", self);
        let spec = Seccomp {
            profile,
            allow,
            deny,
            // Filled in from [network] once that section is read (see `validate`).
            unix_sockets: false,
        };
        // Names are checked against this architecture's table only when every entry is at
        // least shaped like a name, so indices line up with what was written.
        if spec.allow.len() == raw.allow.len() && spec.deny.len() == raw.deny.len() {
            use crate::isolation::seccomp::{Arch, SeccompList, validate};
            for problem in validate(&spec, Arch::native()) {
                let span = match (problem.list, problem.index) {
                    (SeccompList::Allow, Some(i)) => raw.allow[i].span(),
                    (SeccompList::Deny, Some(i)) => raw.deny[i].span(),
                    _ => raw.profile.as_ref().map_or(0..0, Spanned::span),
                };
                self.err(span, problem.key(), problem.message);
            }
        }
        spec
    }

    fn landlock(&mut self, raw: super::schema::RawLandlock) -> LandlockReq {
        let min_abi = raw.min_abi.and_then(|v| match *v.get_ref() {
            n @ 1..=MAX_KNOWN_LANDLOCK_ABI => u8::try_from(n).ok(),
            n => {
                self.err(v.span(), "landlock.min_abi", format!("{n} is not a Landlock ABI this mycelium knows (1 to {MAX_KNOWN_LANDLOCK_ABI})"));
                None
            }
        });
        LandlockReq { min_abi }
    }
}

fn unknown_placeholder(original: &str, from: &str) -> String {
    let name = from.split('}').next().unwrap_or(from);
    format!(
        "{original:?}: unknown placeholder {name}}}: expected {{workspace}} or {{home}} at the start"
    )
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "path does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Lexically clean an absolute or relative path; `None` if it contains `..`.
/// Whether granting `host` would expose `protected`: one lies inside the other, by name or
/// as objects (links followed, then `(st_dev, st_ino)` of each directory up to `/`, so a
/// bind-mounted alias is caught too). The sandbox's plan checks again on what it mounts.
fn exposes(host: &Path, protected: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if protected.starts_with(host) || host.starts_with(protected) {
        return true;
    }
    let ids = |p: &Path| -> Vec<(u64, u64)> {
        let Ok(canon) = std::fs::canonicalize(p) else {
            return Vec::new();
        };
        canon
            .ancestors()
            .filter_map(|a| std::fs::metadata(a).ok().map(|m| (m.dev(), m.ino())))
            .collect()
    };
    let (mine, theirs) = (ids(host), ids(protected));
    match (mine.first(), theirs.first()) {
        (Some(h), Some(p)) => mine.contains(p) || theirs.contains(h),
        _ => false,
    }
}

fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::RootDir => out.push("/"),
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
